"""Build complete, signed LINE webhook bodies for tests (as LINE sends them)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from bot.settings import DEMO_CHANNEL_SECRET

DESTINATION = "U" + "d" * 32


def sign(body: str | bytes, secret: str = DEMO_CHANNEL_SECRET) -> str:
    """X-Line-Signature: Base64 of HMAC-SHA256 over the raw body."""
    raw = body.encode() if isinstance(body, str) else body
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def event(
    kind: str, user_id: str, *, event_id: str | None = None, redelivery: bool = False, **extra
) -> dict:
    """One webhook event with every property LINE sends."""
    body = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or ("01" + secrets.token_hex(12).upper()),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if kind != "unfollow":
        body["replyToken"] = secrets.token_hex(16)
    if kind == "follow":
        body["follow"] = {"isUnblocked": False}
    body.update(extra)
    return body


def text_event(user_id: str, text: str, **kw) -> dict:
    """A text message from a resident."""
    message = {
        "id": str(secrets.randbelow(10**17)),
        "type": "text",
        "text": text,
        "quoteToken": secrets.token_hex(8),
    }
    return event("message", user_id, message=message, **kw)


def postback_event(user_id: str, data: str, params: dict | None = None, **kw) -> dict:
    """A postback (button or date picker) from a resident."""
    postback = {"data": data}
    if params:
        postback["params"] = params
    return event("postback", user_id, postback=postback, **kw)


def body_of(*events: dict) -> str:
    """The JSON body of a webhook request carrying these events."""
    return json.dumps({"destination": DESTINATION, "events": list(events)}, ensure_ascii=False)


def post(client, body: str | bytes, signature: str | None = "sign"):
    """POST /callback with a correct signature (default), a given one, or none."""
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Line-Signature"] = sign(body)
    elif signature is not None:
        headers["X-Line-Signature"] = signature
    return client.post("/callback", data=body, headers=headers)


def new_user_id() -> str:
    """A LINE-shaped user id."""
    return "U" + secrets.token_hex(16)
