"""Webhook events as LINE sends them: payload shapes, ULID event ids, signing, redelivery."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable

import requests

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# LINE counts a webhook without an answer within 2 s as `request_timeout`. Tests may give
# the bot longer (`webhook_timeout`) so a cold start is not redelivered spuriously, but an
# answer slower than LINE's deadline is still flagged `late` in the attempt record.
LINE_DEADLINE_MS = 2000


def new_ulid(now_ms: int) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, 26 Crockford base32 characters."""
    value = (now_ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def sign(channel_secret: str, body: str) -> str:
    """X-Line-Signature: base64(HMAC-SHA256(channel secret, raw body))."""
    digest = hmac.new(channel_secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def base_event(kind: str, user_id: str, now_ms: int, reply_token: str | None) -> dict:
    """The properties every event from a one-on-one chat has."""
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": now_ms,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": new_ulid(now_ms),
        "deliveryContext": {"isRedelivery": False},
    }
    if reply_token is not None:
        event["replyToken"] = reply_token
    return event


def follow_event(user_id: str, now_ms: int, reply_token: str, unblocked: bool) -> dict:
    """A follow event (adding the account, or unblocking it)."""
    return {
        **base_event("follow", user_id, now_ms, reply_token),
        "follow": {"isUnblocked": unblocked},
    }


def unfollow_event(user_id: str, now_ms: int) -> dict:
    """An unfollow (block) event; LINE gives no reply token."""
    return base_event("unfollow", user_id, now_ms, None)


def text_event(
    user_id: str, now_ms: int, reply_token: str, text: str, message_id: str, quote_token: str
) -> dict:
    """A text message event."""
    message = {"id": message_id, "type": "text", "quoteToken": quote_token, "text": text}
    return {**base_event("message", user_id, now_ms, reply_token), "message": message}


def sticker_event(
    user_id: str,
    now_ms: int,
    reply_token: str,
    message_id: str,
    quote_token: str,
    package_id: str,
    sticker_id: str,
) -> dict:
    """A sticker message event."""
    message = {
        "type": "sticker",
        "id": message_id,
        "quoteToken": quote_token,
        "stickerId": sticker_id,
        "packageId": package_id,
        "stickerResourceType": "STATIC",
    }
    return {**base_event("message", user_id, now_ms, reply_token), "message": message}


def postback_event(
    user_id: str, now_ms: int, reply_token: str, data: str, params: dict | None
) -> dict:
    """A postback event (a postback or datetime-picker action)."""
    postback = {"data": data}
    if params:
        postback["params"] = params
    return {**base_event("postback", user_id, now_ms, reply_token), "postback": postback}


def as_redelivery(events: list[dict]) -> list[dict]:
    """The same events marked as redelivered; ids, tokens and timestamps unchanged."""
    events = copy.deepcopy(events)
    for event in events:
        event["deliveryContext"]["isRedelivery"] = True
    return events


def accepted(attempt: dict) -> bool:
    """LINE counts any 2xx as received; anything else (or no answer) is redelivered."""
    return attempt["status"] is not None and 200 <= attempt["status"] < 300


class WebhookSender:
    """Posts signed payloads to the bot, redelivering on a non-2xx answer or a timeout."""

    def __init__(
        self,
        url: str | None,
        channel_secret: str,
        destination: str,
        *,
        attempts: int,
        delay: float,
        timeout: float,
        on_redeliver: Callable[[list[dict]], None] = lambda events: None,
    ):
        self.url = url
        self.channel_secret = channel_secret
        self.destination = destination
        self.attempts = attempts
        self.delay = delay
        self.timeout = timeout
        self.on_redeliver = on_redeliver

    def post_once(self, events: list[dict]) -> dict:
        """One signed POST; returns {status, error, redelivery, body, ms, late}."""
        body = json.dumps(
            {"destination": self.destination, "events": events},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": sign(self.channel_secret, body),
            "User-Agent": "LineBotWebhook/2.0",
        }
        started = time.monotonic()
        result = {
            "status": None,
            "error": None,
            "redelivery": any(e["deliveryContext"]["isRedelivery"] for e in events),
        }
        try:
            response = requests.post(
                self.url, data=body.encode(), headers=headers, timeout=self.timeout
            )
            result["status"] = response.status_code
            result["body"] = response.text[:500]
        except requests.Timeout:
            result["error"] = "request_timeout"
        except requests.ConnectionError:
            result["error"] = "could_not_connect"
        result["ms"] = round((time.monotonic() - started) * 1000)
        result["late"] = result["ms"] > LINE_DEADLINE_MS
        return result

    def deliver(self, events: list[dict]) -> list[dict]:
        """Send, then redeliver (same ids, isRedelivery true) until a 2xx or attempts run out."""
        if not self.url:
            return []
        tries = [self.post_once(events)]
        redelivered = as_redelivery(events)
        # Only the first try counts toward the budget; `attempts` is the number of redeliveries.
        while not accepted(tries[-1]) and len(tries) <= self.attempts:
            if self.delay:
                time.sleep(self.delay)
            self.on_redeliver(redelivered)
            tries.append(self.post_once(redelivered))
        return tries
