"""The LINE adapter: line-bot-sdk v3 behind small methods, with timeouts and retry keys.

The SDK has no default timeout and urllib3 silently retries GETs; we disable urllib3's
retries so that every retry is ours and carries the same X-Line-Retry-Key. Calls whose body
is LINE's JSON already (replies and pushes from the outbox) go through bot.line.http
without the SDK's models; multicasts are the dispatcher's, on its own client
(bot.line.http.multicast_http, Wiring.dispatcher).
"""

from __future__ import annotations

import json
import time
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

from bot.errors import RetryableSendError, SendError
from bot.line.http import AlreadyAccepted, LineHttp, NoAnswer, map_error
from bot.logs import get_logger
from bot.settings import Settings

log = get_logger("todoku.line")

# A new friend's profile (their app's language) is asked by the reply thread before their
# welcome, which waits for it: at most this long, and not again for PROFILE_PAUSE seconds
# after LINE did not answer (the welcome then goes in Japanese).
PROFILE_TIMEOUT = 0.5
PROFILE_PAUSE = 30.0
# Tokens the LINE console's "Verify" button used to send; replying to them fails.
DUMMY_REPLY_TOKENS = {"0" * 32, "f" * 32}


def replyable(event) -> bool:
    """Whether LINE lets this webhook event be answered: active mode (not a standby
    channel's copy) with a reply token that is not the console's dummy."""
    token = getattr(event, "reply_token", None)
    return (
        getattr(event, "mode", "active") == "active"
        and bool(token)
        and token not in DUMMY_REPLY_TOKENS
    )


class LineGateway:
    """Messaging API calls Todoku makes, each with a timeout and mapped errors."""

    def __init__(self, settings: Settings) -> None:
        token = settings.channel_access_token.get_secret_value()
        self._timeout = (3.05, settings.line_timeout_seconds)
        self._client = ApiClient(_configuration(settings.line_api_base, token))
        self._data_client = ApiClient(_configuration(settings.line_api_data_base, token))
        self.api = MessagingApi(self._client)
        self.blob = MessagingApiBlob(self._data_client)
        # Replies from the outbox are JSON already: posted as they are, without the SDK's
        # models (rebuilding and serialising them cost more than the rest of a webhook).
        self._http = LineHttp(
            settings.line_api_base,
            token,
            read_timeout=settings.reply_timeout_seconds,
            connect_timeout=2.0,
        )
        self._profile_paused_until = 0.0

    def reply(self, reply_token: str, messages: Sequence[Message]) -> None:
        """Answer a webhook event (free of quota; the token is single-use, ~1 minute)."""
        if reply_token in DUMMY_REPLY_TOKENS or not messages:
            return
        request = ReplyMessageRequest(replyToken=reply_token, messages=list(messages))
        self._call(self.api.reply_message_with_http_info, request, kind="reply")

    def reply_json(self, reply_token: str, messages_json: str) -> str:
        """Reply with a JSON array of message objects; InvalidReplyToken if used or expired."""
        body = f'{{"replyToken":{json.dumps(reply_token)},"messages":{messages_json}}}'
        return self._http.post("/v2/bot/message/reply", body, kind="reply")

    def push_json(self, user_id: str, messages_json: str, retry_key: str) -> str:
        """Push a JSON array of message objects to one user with a retry key."""
        body = f'{{"to":{json.dumps(user_id)},"messages":{messages_json}}}'
        return self._http.post("/v2/bot/message/push", body, kind="push", retry_key=retry_key)

    def profile_language(self, user_id: str) -> str | None:
        """The `language` of a friend's LINE profile (BCP 47, e.g. "en"), or None.

        Asked once, when someone adds the account, by the reply thread that welcomes them
        (the welcome waits for it): so a short timeout, no retry, and any failure is simply
        "not known" (Japanese). After a timeout or refused connection the profile is not
        asked for PROFILE_PAUSE seconds, so a LINE outage delays one welcome in this
        process, not every one.
        """
        return self.ask_profile_language(user_id)[1]

    def ask_profile_language(self, user_id: str) -> tuple[bool, str | None]:
        """(whether LINE answered, the profile's language or None): `profile_language`
        for a caller that can ask again later when LINE did not answer (no connection, a
        timeout, 429 or 5xx). LINE's "no such friend" (404) is an answer: no language."""
        if time.monotonic() < self._profile_paused_until:
            return False, None
        try:
            response = self._http.get(
                f"/v2/bot/profile/{user_id}", timeout=PROFILE_TIMEOUT, kind="profile"
            )
        except NoAnswer as exc:
            self._profile_paused_until = time.monotonic() + PROFILE_PAUSE
            log.info("line_profile_unavailable", error=f"libcurl {exc.code}")
            return False, None
        if response.status != 200:
            log.info("line_profile_unavailable", status=response.status)
            return response.status < 500 and response.status != 429, None
        try:
            language = json.loads(response.data).get("language")
        except (ValueError, AttributeError):
            return True, None
        return True, language if isinstance(language, str) and len(language) <= 35 else None

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
            if isinstance(error, AlreadyAccepted):
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
    return map_error(exc.status or 0, exc.body or "", exc.headers or {}, kind)
