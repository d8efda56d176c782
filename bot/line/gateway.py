"""The LINE adapter: line-bot-sdk v3 behind small methods, with timeouts and retry keys.

The SDK has no default timeout and urllib3 silently retries GETs; we disable urllib3's
retries so that every retry is ours and carries the same X-Line-Retry-Key.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    Message,
    MessagingApi,
    MessagingApiBlob,
    ReplyMessageRequest,
    RichMenuRequest,
)

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

# A new friend's profile (their app's language) is asked within the webhook: at most this
# long, and not again for PROFILE_PAUSE seconds after LINE did not answer.
PROFILE_TIMEOUT = 0.5
PROFILE_PAUSE = 30.0
# Tokens the LINE console's "Verify" button used to send; replying to them fails.
DUMMY_REPLY_TOKENS = {"0" * 32, "f" * 32}
MULTICAST_MAX = 500  # user ids per multicast (LINE)


class LineGateway:
    """Messaging API calls Todoku makes, each with a timeout and mapped errors."""

    def __init__(self, settings: Settings) -> None:
        token = settings.channel_access_token.get_secret_value()
        self._timeout = (3.05, settings.line_timeout_seconds)
        self._client = ApiClient(_configuration(settings.line_api_base, token))
        self._data_client = ApiClient(_configuration(settings.line_api_data_base, token))
        self.api = MessagingApi(self._client)
        self.blob = MessagingApiBlob(self._data_client)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, ...], tuple[tuple[Message, ...], list[dict]]] = (
            OrderedDict()
        )
        # Replies from the outbox are JSON already: posted as they are, without the SDK's
        # models (rebuilding and serialising them cost more than the rest of a webhook).
        self._base = settings.line_api_base.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "todoku",
        }
        self._profile_paused_until = 0.0
        self._http = urllib3.PoolManager(
            num_pools=2,
            maxsize=max(4, settings.reply_threads),
            retries=False,
            timeout=urllib3.Timeout(connect=2.0, read=settings.reply_timeout_seconds),
        )

    def reply(self, reply_token: str, messages: Sequence[Message]) -> None:
        """Answer a webhook event (free of quota; the token is single-use, ~1 minute)."""
        if reply_token in DUMMY_REPLY_TOKENS or not messages:
            return
        request = ReplyMessageRequest(replyToken=reply_token, messages=list(messages))
        self._call(self.api.reply_message_with_http_info, request, kind="reply")

    def reply_json(self, reply_token: str, messages_json: str) -> str:
        """Reply with a JSON array of message objects; InvalidReplyToken if used or expired."""
        body = f'{{"replyToken":{json.dumps(reply_token)},"messages":{messages_json}}}'
        return self._post_json("/v2/bot/message/reply", body, kind="reply")

    def push_json(self, user_id: str, messages_json: str, retry_key: str) -> str:
        """Push a JSON array of message objects to one user with a retry key."""
        body = f'{{"to":{json.dumps(user_id)},"messages":{messages_json}}}'
        return self._post_json("/v2/bot/message/push", body, kind="push", retry_key=retry_key)

    def _post_json(self, path: str, body: str, *, kind: str, retry_key: str | None = None) -> str:
        headers = self._headers
        if retry_key is not None:
            headers = {**headers, "X-Line-Retry-Key": retry_key}
        try:
            response = self._http.request(
                "POST", self._base + path, body=body.encode(), headers=headers
            )
        except urllib3.exceptions.HTTPError as exc:
            # No answer: it may or may not have been accepted (the outbox knows what to do).
            raise RetryableSendError(f"{kind}: {type(exc).__name__}") from exc
        request_id = response.headers.get("x-line-request-id", "")
        if response.status == 200:
            log.info("line_api_call", kind=kind, status=200, request_id=request_id)
            return request_id
        text = response.data.decode("utf-8", "replace")
        if kind == "reply" and response.status == 400 and "Invalid reply token" in text:
            raise InvalidReplyToken(f"{kind}: HTTP 400: invalid reply token", status=400)
        error = _map_error(response.status, text, response.headers, kind)
        if isinstance(error, _AlreadyAccepted):
            log.info("line_api_already_accepted", kind=kind, request_id=error.request_id)
            return error.request_id
        raise error

    def multicast(
        self, user_ids: Sequence[str], messages: Sequence[Message], retry_key: str
    ) -> str:
        """Send the same messages to ≤500 users; returns LINE's request id."""
        if not 0 < len(user_ids) <= MULTICAST_MAX:
            raise ValueError(f"a multicast reaches 1 to {MULTICAST_MAX} users, not {len(user_ids)}")
        body = {"to": list(user_ids), "messages": self._serialised(messages)}
        return self._call(self._post_multicast, body, kind="multicast", retry_key=retry_key)

    def _post_multicast(self, body: dict, **kwargs):
        """POST /v2/bot/message/multicast through the SDK's client with a body built already.

        What `MessagingApi.multicast_with_http_info` does, minus re-validating and
        re-serialising the same notice and 500 ids into pydantic models on every call: that
        cost ~16 ms of CPU per call (profiled), which at LINE's 200 calls/s is more than the
        two cores have. The messages are SDK models (validated when built) serialised once.
        """
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if kwargs.get("x_line_retry_key"):
            headers["X-Line-Retry-Key"] = kwargs["x_line_retry_key"]
        return self._client.call_api(
            "/v2/bot/message/multicast",
            "POST",
            {},
            [],
            headers,
            body=body,
            post_params=[],
            files={},
            response_types_map={"200": "object"},
            auth_settings=["Bearer"],
            _return_http_data_only=False,
            collection_formats={},
            _request_timeout=kwargs.get("_request_timeout"),
            _host=self.api.line_base_path,
        )

    def _serialised(self, messages: Sequence[Message]) -> list[dict]:
        """The messages as LINE's JSON objects, kept for the same message objects.

        A run sends one notice in every batch: it is serialised once. The cache holds the
        objects themselves, so an id() is never reused while its entry lives.
        """
        key = tuple(id(m) for m in messages)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and all(a is b for a, b in zip(hit[0], messages, strict=True)):
                self._cache.move_to_end(key)
                return hit[1]
        dicts = [m.to_dict() for m in messages]
        with self._lock:
            self._cache[key] = (tuple(messages), dicts)
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return dicts

    def profile_language(self, user_id: str) -> str | None:
        """The `language` of a friend's LINE profile (BCP 47, e.g. "en"), or None.

        Asked once, when someone adds the account, inside the webhook's 2 seconds: so a
        short timeout, no retry, and any failure is simply "not known" (Japanese). After a
        timeout or refused connection the profile is not asked for PROFILE_PAUSE seconds, so
        a LINE outage delays one follow in this process, not every one.
        """
        if time.monotonic() < self._profile_paused_until:
            return None
        try:
            response = self._http.request(
                "GET",
                f"{self._base}/v2/bot/profile/{user_id}",
                headers=self._headers,
                timeout=urllib3.Timeout(total=PROFILE_TIMEOUT),
            )
        except urllib3.exceptions.HTTPError as exc:
            self._profile_paused_until = time.monotonic() + PROFILE_PAUSE
            log.info("line_profile_unavailable", error=type(exc).__name__)
            return None
        if response.status != 200:
            log.info("line_profile_unavailable", status=response.status)
            return None
        try:
            language = json.loads(response.data).get("language")
        except (ValueError, AttributeError):
            return None
        return language if isinstance(language, str) and len(language) <= 35 else None

    def link_rich_menu(self, user_id: str, rich_menu_id: str, timeout=None) -> None:
        """Show `rich_menu_id` to one user (their language's menu) instead of the default."""
        self.api.link_rich_menu_id_to_user(
            user_id, rich_menu_id, _request_timeout=timeout or self._timeout
        )

    def create_rich_menu(
        self, menu: RichMenuRequest, image_png: bytes, *, default: bool = True
    ) -> str:
        """Create a rich menu, upload its image and (unless not `default`) make it the
        default; returns its id."""
        created = self.api.create_rich_menu(menu, _request_timeout=self._timeout)
        self.blob.set_rich_menu_image(
            created.rich_menu_id,
            body=bytearray(image_png),
            _headers={"Content-Type": "image/png"},
            _request_timeout=self._timeout,
        )
        if default:
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
    return _map_error(exc.status or 0, exc.body or "", exc.headers or {}, kind)


def _map_error(status: int, body: str, headers, kind: str) -> SendError:
    accepted = headers.get("x-line-accepted-request-id")
    if status == 409 and accepted:
        # The retry key was accepted earlier: the send happened; not an error for us.
        return _AlreadyAccepted(accepted)
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
