"""LINE's Messaging API as plain JSON over urllib3: the calls whose bodies are ready.

Replies and pushes from the reply outbox, and the dispatcher's multicasts, are LINE's JSON
already (a notice is built as data: messages.notice.notice_object). Posting them through
the SDK's models would validate and serialise the same bubble and 500 ids again on every
call (~16 ms of CPU per multicast, profiled), and importing the SDK alone takes over a
second, which `todoku send` would spend before its first multicast. The wire format,
headers and error mapping are the SDK's and LINE's: a status LINE answers maps to the
same SendError as through the SDK (bot.line.gateway uses `map_error` for those).

No retries here: urllib3's are off, so every retry is the caller's and carries the same
X-Line-Retry-Key (bot.dispatch.send).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import urllib3

from bot.errors import (
    InvalidReplyToken,
    MonthlyQuotaReached,
    PermanentSendError,
    RetryableSendError,
    SendError,
)
from bot.logs import get_logger
from bot.settings import Settings

log = get_logger("todoku.line")

MULTICAST_MAX = 500  # user ids per multicast (LINE)


class LineHttp:
    """POSTs of JSON bodies to the Messaging API with the channel's token, pooled."""

    def __init__(
        self,
        base: str,
        token: str,
        *,
        read_timeout: float,
        connect_timeout: float = 3.05,
        connections: int = 4,
    ) -> None:
        self.base = base.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "todoku",
        }
        # One pool for LINE's one host, called directly: urllib3's PoolManager parsed the
        # URL and looked its pool up again on every call, which took 0.8 ms of CPU per
        # reply against 0.45 ms through the host's pool (docs/benchmarks.md, 2026-12-03).
        self.prefix = urlsplit(self.base).path
        self.pool = urllib3.connection_from_url(
            self.base,
            # As many kept connections as requests in flight at once: with fewer, urllib3
            # opens and discards a connection for each request beyond the pool.
            maxsize=connections,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        )

    def get(self, path: str, *, timeout: urllib3.Timeout) -> urllib3.BaseHTTPResponse:
        """GET a path of the API (raises urllib3's HTTPError when there is no answer)."""
        return self.pool.urlopen(
            "GET", self.prefix + path, headers=self.headers, timeout=timeout, retries=False
        )

    def post(self, path: str, body: str, *, kind: str, retry_key: str | None = None) -> str:
        """POST a JSON body; LINE's request id, or the SendError its answer means."""
        headers = self.headers
        if retry_key is not None:
            headers = {**headers, "X-Line-Retry-Key": retry_key}
        try:
            response = self.pool.urlopen(
                "POST", self.prefix + path, body=body.encode(), headers=headers, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            # No answer: it may or may not have been accepted (what retry keys are for).
            raise RetryableSendError(f"{kind}: {type(exc).__name__}") from exc
        request_id = response.headers.get("x-line-request-id", "")
        if response.status == 200:
            log.info("line_api_call", kind=kind, status=200, request_id=request_id)
            return request_id
        text = response.data.decode("utf-8", "replace")
        if kind == "reply" and response.status == 400 and "Invalid reply token" in text:
            raise InvalidReplyToken(f"{kind}: HTTP 400: invalid reply token", status=400)
        error = map_error(response.status, text, response.headers, kind)
        if isinstance(error, AlreadyAccepted):
            log.info("line_api_already_accepted", kind=kind, request_id=error.request_id)
            return error.request_id
        raise error

    def multicast(
        self, user_ids: Sequence[str], messages: Sequence[Mapping[str, Any]], retry_key: str
    ) -> str:
        """Send the same messages (LINE's JSON objects) to ≤500 users; LINE's request id."""
        if not 0 < len(user_ids) <= MULTICAST_MAX:
            raise ValueError(f"a multicast reaches 1 to {MULTICAST_MAX} users, not {len(user_ids)}")
        body = json.dumps({"to": list(user_ids), "messages": list(messages)}, ensure_ascii=False)
        return self.post("/v2/bot/message/multicast", body, kind="multicast", retry_key=retry_key)


def multicast_http(settings: Settings) -> LineHttp:
    """The dispatcher's client: one kept connection per sending thread and then some
    (SendPolicy.concurrency is 16)."""
    token = settings.channel_access_token.get_secret_value()
    return LineHttp(
        settings.line_api_base, token, read_timeout=settings.line_timeout_seconds, connections=32
    )


def map_error(status: int, body: str, headers: Mapping[str, str], kind: str) -> SendError:
    """The SendError a LINE answer other than 200 means (AlreadyAccepted for a 409 with
    the accepted request's id: the send happened once, earlier)."""
    accepted = headers.get("x-line-accepted-request-id")
    if status == 409 and accepted:
        return AlreadyAccepted(accepted)
    log.warning("line_api_error", kind=kind, status=status)
    if status == 429 and "monthly limit" in str(body):
        # Not a rate limit: every send fails until the month ends (§2.7); never retry.
        return MonthlyQuotaReached(f"{kind}: HTTP 429: monthly limit reached", status=status)
    if status >= 500 or status == 429:
        return RetryableSendError(f"{kind}: HTTP {status}", status=status)
    return PermanentSendError(f"{kind}: HTTP {status}: {str(body)[:200]}", status=status)


class AlreadyAccepted(SendError):
    """409 with x-line-accepted-request-id: LINE already accepted this retry key."""

    def __init__(self, request_id: str) -> None:
        super().__init__("retry key already accepted", status=409)
        self.request_id = request_id
