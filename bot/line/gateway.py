"""The LINE adapter: line-bot-sdk v3 behind small methods, with timeouts and retry keys.

The SDK has no default timeout and urllib3 silently retries GETs; we disable urllib3's
retries so that every retry is ours and carries the same X-Line-Retry-Key.
"""

from __future__ import annotations

from collections.abc import Sequence

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    Message,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
)

from bot.errors import MonthlyQuotaReached, PermanentSendError, RetryableSendError, SendError
from bot.logs import get_logger
from bot.settings import Settings

log = get_logger("todoku.line")

# Tokens the LINE console's "Verify" button used to send; replying to them fails.
DUMMY_REPLY_TOKENS = {"0" * 32, "f" * 32}


class LineGateway:
    """Messaging API calls Todoku makes, each with a timeout and mapped errors."""

    def __init__(self, settings: Settings) -> None:
        token = settings.channel_access_token.get_secret_value()
        self._timeout = (3.05, settings.line_timeout_seconds)
        self._client = ApiClient(_configuration(settings.line_api_base, token))
        self._data_client = ApiClient(_configuration(settings.line_api_data_base, token))
        self.api = MessagingApi(self._client)
        self.blob = MessagingApiBlob(self._data_client)

    def reply(self, reply_token: str, messages: Sequence[Message]) -> None:
        """Answer a webhook event (free of quota; the token is single-use, ~1 minute)."""
        if reply_token in DUMMY_REPLY_TOKENS or not messages:
            return
        request = ReplyMessageRequest(replyToken=reply_token, messages=list(messages))
        self._call(self.api.reply_message_with_http_info, request, kind="reply")

    def push(self, user_id: str, messages: Sequence[Message], retry_key: str) -> str:
        """Send to one user; returns LINE's request id."""
        request = PushMessageRequest(to=user_id, messages=list(messages))
        return self._call(
            self.api.push_message_with_http_info, request, kind="push", retry_key=retry_key
        )

    def multicast(
        self, user_ids: Sequence[str], messages: Sequence[Message], retry_key: str
    ) -> str:
        """Send the same messages to ≤500 users; returns LINE's request id."""
        request = MulticastRequest(to=list(user_ids), messages=list(messages))
        return self._call(
            self.api.multicast_with_http_info, request, kind="multicast", retry_key=retry_key
        )

    def create_rich_menu(self, menu: RichMenuRequest, image_png: bytes) -> str:
        """Create a rich menu, upload its image and make it the default; returns its id."""
        created = self.api.create_rich_menu(menu, _request_timeout=self._timeout)
        self.blob.set_rich_menu_image(
            created.rich_menu_id,
            body=bytearray(image_png),
            _headers={"Content-Type": "image/png"},
            _request_timeout=self._timeout,
        )
        self.api.set_default_rich_menu(created.rich_menu_id, _request_timeout=self._timeout)
        return created.rich_menu_id

    def _call(self, method, request, *, kind: str, retry_key: str | None = None) -> str:
        kwargs = {"_request_timeout": self._timeout}
        if retry_key is not None:
            kwargs["x_line_retry_key"] = retry_key
        try:
            response = method(request, **kwargs)
        except ApiException as exc:
            error = _map_api_exception(exc, kind)
            if isinstance(error, _AlreadyAccepted):
                # A retry of a request LINE accepted before (its answer was lost): the send
                # happened once, and this is its request id.
                log.info("line_api_already_accepted", kind=kind, request_id=error.request_id)
                return error.request_id
            raise error from exc
        except urllib3.exceptions.HTTPError as exc:
            # A timed-out POST may or may not have been accepted: exactly what the retry key
            # is for, so it is retryable.
            raise RetryableSendError(f"{kind}: {type(exc).__name__}") from exc
        request_id = response.headers.get("x-line-request-id", "")
        log.info("line_api_call", kind=kind, status=response.status_code, request_id=request_id)
        return request_id


def _configuration(host: str, token: str) -> Configuration:
    config = Configuration(host=host.rstrip("/"), access_token=token)
    config.retries = urllib3.Retry(total=0, redirect=0)
    # One client serves the dispatcher's concurrent multicasts (SendPolicy.concurrency):
    # with fewer pooled connections than requests in flight, urllib3 opens and discards a
    # connection per request beyond the pool (default cpu×5).
    config.connection_pool_maxsize = 32
    return config


def _map_api_exception(exc: ApiException, kind: str) -> SendError:
    status = exc.status or 0
    accepted = (exc.headers or {}).get("x-line-accepted-request-id")
    if status == 409 and accepted:
        # The retry key was accepted earlier: the send happened; not an error for us.
        return _AlreadyAccepted(accepted)
    body = exc.body or ""
    log.warning("line_api_error", kind=kind, status=status)
    if status == 429 and "monthly limit" in str(body):
        # Not a rate limit: every send fails until the month ends (§2.7); never retry.
        return MonthlyQuotaReached(f"{kind}: HTTP 429: monthly limit reached", status=status)
    if status >= 500 or status == 429:
        return RetryableSendError(f"{kind}: HTTP {status}", status=status)
    return PermanentSendError(f"{kind}: HTTP {status}: {str(body)[:200]}", status=status)


class _AlreadyAccepted(SendError):
    """409 with x-line-accepted-request-id: LINE already accepted this retry key."""

    def __init__(self, request_id: str) -> None:
        super().__init__("retry key already accepted", status=409)
        self.request_id = request_id
