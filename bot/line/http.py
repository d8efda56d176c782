"""LINE's Messaging API as plain JSON over libcurl: the calls whose bodies are ready.

Replies and pushes from the reply outbox, the follow's profile, and the dispatcher's
multicasts are LINE's JSON already (a notice is built as data: messages.notice.notice_object).
Posting them through the SDK's models would validate and serialise the same bubble and 500
ids again on every call (~16 ms of CPU per multicast, profiled), and importing the SDK alone
takes over a second, which `todoku send` would spend before its first multicast. The wire
format, headers and error mapping are the SDK's and LINE's: a status LINE answers maps to
the same SendError as through the SDK (bot.line.gateway uses `map_error` for those).

The transport is libcurl (pycurl), one handle and kept connection per thread: a call took
~0.25 ms of CPU against ~1.1 ms through urllib3, whose Python HTTP parsing (http.client's
header parser, the response object) was a fifth of a webhook event's CPU and most of a
reply thread's (docs/benchmarks.md, "2026-12-03 (16:00–17:10 JST)"). Like the SDK's own
client it uses no proxy from the environment and follows no redirect, and it trusts the
CAs Python's ssl trusts (the wheel's libcurl has its own OpenSSL, which knows no CA path
of this system; `_handle` names them).

No retries here: every retry is the caller's and carries the same X-Line-Retry-Key
(bot.dispatch.send).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pycurl
from certifi import where as certifi_bundle

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


class NoAnswer(Exception):
    """LINE did not answer (refused, timed out, reset): the call may or may not have
    been accepted. The text names libcurl's error code only, never a URL or a body."""

    def __init__(self, kind: str, code: int) -> None:
        super().__init__(f"{kind}: no answer (libcurl error {code})")
        self.code = code


@dataclass(frozen=True)
class Answer:
    """LINE's answer: the status, the headers (names in lower case) and the body;
    `resent` when libcurl may have sent the call twice (see `LineHttp._call`)."""

    status: int
    headers: Mapping[str, str]
    data: bytes
    resent: bool = False


class LineHttp:
    """Calls with JSON bodies to the Messaging API with the channel's token."""

    def __init__(
        self, base: str, token: str, *, read_timeout: float, connect_timeout: float = 3.05
    ) -> None:
        self.base = base.rstrip("/")
        # "Expect:" turns off libcurl's 100-continue for bodies over 1 KiB (a multicast),
        # which would wait for LINE's interim answer before sending the body.
        self._headers = [
            f"Authorization: Bearer {token}",
            "Content-Type: application/json",
            "User-Agent: todoku",
            "Expect:",
        ]
        self.connect_timeout = connect_timeout
        self.timeout = connect_timeout + read_timeout
        self._local = threading.local()

    def _handle(self) -> pycurl.Curl:
        # A handle is not thread-safe; each thread keeps its own, and with it one kept
        # connection (the dispatcher's 16 sending threads: 16 connections).
        curl = getattr(self._local, "curl", None)
        if curl is None:
            curl = pycurl.Curl()
            curl.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: threads
            curl.setopt(pycurl.PROXY, "")  # not http_proxy from the environment
            curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
            curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
            # The CAs Python's ssl trusts, as the SDK's calls do: the system's store, or
            # SSL_CERT_FILE / SSL_CERT_DIR, so a city's own CA added there works for every
            # LINE call alike; certifi's bundle where the system names no file.
            paths = ssl.get_default_verify_paths()
            curl.setopt(pycurl.CAINFO, paths.cafile or certifi_bundle())
            if paths.capath:
                curl.setopt(pycurl.CAPATH, paths.capath)
            curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(self.connect_timeout * 1000))
            self._local.curl = curl
        return curl

    def _call(
        self,
        path: str,
        *,
        body: bytes | None,
        kind: str,
        timeout: float,
        retry_key: str | None = None,
    ) -> Answer:
        curl = self._handle()
        headers = self._headers
        if retry_key is not None:
            headers = [*headers, f"X-Line-Retry-Key: {retry_key}"]
        received: list[bytes] = []
        data = BytesIO()
        curl.setopt(pycurl.URL, self.base + path)
        curl.setopt(pycurl.HTTPHEADER, headers)
        if body is None:
            curl.setopt(pycurl.HTTPGET, 1)
        else:
            curl.setopt(pycurl.POSTFIELDS, body)
        curl.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        curl.setopt(pycurl.HEADERFUNCTION, received.append)
        curl.setopt(pycurl.WRITEDATA, data)
        # libcurl sends a request again, by itself, on a new connection when the kept one
        # died after the request went out and before any answer (no option turns this
        # off). Harmless with a retry key; a reply has none, and LINE refusing its token
        # the second time may mean the first sending got through. So a call that expected
        # its thread's kept connection and still had to connect is marked: it may have
        # been sent twice. (It may also have found the kept connection closed before
        # sending; a young token we never used is not refused in practice, and counting
        # such a refusal as sent is the lesser error than a second message.)
        expected_kept = getattr(self._local, "kept", False)
        self._local.kept = False
        try:
            curl.perform()
        except pycurl.error as exc:
            raise NoAnswer(kind, exc.args[0] if exc.args else 0) from None
        headers = _headers(received)
        self._local.kept = headers.get("connection", "").lower() != "close"
        return Answer(
            curl.getinfo(pycurl.RESPONSE_CODE),
            headers,
            data.getvalue(),
            resent=expected_kept and curl.getinfo(pycurl.NUM_CONNECTS) > 0,
        )

    def get(self, path: str, *, timeout: float, kind: str = "get") -> Answer:
        """GET a path of the API within `timeout` seconds (NoAnswer when there is none)."""
        return self._call(path, body=None, kind=kind, timeout=timeout)

    def post(self, path: str, body: str, *, kind: str, retry_key: str | None = None) -> str:
        """POST a JSON body; LINE's request id, or the SendError its answer means."""
        try:
            answer = self._call(
                path, body=body.encode(), kind=kind, timeout=self.timeout, retry_key=retry_key
            )
        except NoAnswer as exc:
            # No answer: it may or may not have been accepted (what retry keys are for).
            raise RetryableSendError(str(exc)) from None
        request_id = answer.headers.get("x-line-request-id", "")
        if answer.status == 200:
            # A reply accepted is the usual end of every event: at INFO it was a third of
            # the web process's log lines and ~5 % of an event's CPU. Pushes and
            # multicasts (a notice, a late reply) are logged at INFO.
            if kind == "reply":
                log.debug("line_api_call", kind=kind, status=200, request_id=request_id)
            else:
                log.info("line_api_call", kind=kind, status=200, request_id=request_id)
            return request_id
        text = answer.data.decode("utf-8", "replace")
        if kind == "reply" and answer.status == 400 and "Invalid reply token" in text:
            raise InvalidReplyToken(
                f"{kind}: HTTP 400: invalid reply token", status=400, resent=answer.resent
            )
        error = map_error(answer.status, text, answer.headers, kind)
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


def _headers(lines: list[bytes]) -> dict[str, str]:
    """The final answer's headers (an interim 100 or a proxy's answer comes first)."""
    headers: dict[str, str] = {}
    for raw in lines:
        line = raw.decode("latin-1")
        if line.startswith("HTTP/"):
            headers = {}
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers


def multicast_http(settings: Settings) -> LineHttp:
    """The dispatcher's client (one kept connection per sending thread)."""
    token = settings.channel_access_token.get_secret_value()
    return LineHttp(settings.line_api_base, token, read_timeout=settings.line_timeout_seconds)


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
