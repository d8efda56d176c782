"""POST /callback: verify, parse each event on its own, record it once, answer via the outbox.

Each event is claimed, handled and its reply stored in one transaction, shared with the
other events the process receives meanwhile (bot.registration.events): a redelivered (or
concurrently delivered) event finds its webhookEventId taken and is skipped. Replies are
sent only after the transaction commits, by a background sender
(bot.registration.outbox), so a rolled-back event never speaks to the resident and LINE
never waits for the Messaging API (its 2-second deadline).

One malformed event (no userId, over-long ids, NUL bytes, missing mode or webhookEventId)
is skipped with a warning naming its type; the other events of the body are handled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from concurrent.futures import Future
from http import HTTPStatus

from flask import Blueprint, Response, current_app, request
from linebot.v3.webhooks import Event

from bot.errors import WebhookRejected
from bot.logs import get_logger
from bot.registration import events, outbox
from bot.wiring import Wiring

log = get_logger("todoku.webhook")
blueprint = Blueprint("webhook", __name__)

# LINE's ids: user U + 32 hex; webhookEventId a 26-character ULID; reply token 32 hex.
# The limits are looser than LINE's formats (they may change) but fit the columns.
USER_ID = re.compile(r"U[0-9a-f]{32}")
MAX_ID_LENGTH = 64
EVENT_TYPE = re.compile(r"[A-Za-z]{1,40}")


@blueprint.record_once
def _start_sweeper(state) -> None:
    """Each web process sends what an earlier process committed but did not send."""
    outbox.sender_for(state.app).start_sweeper()


@blueprint.post("/callback")
def callback() -> Response:
    """Receive a LINE webhook: 200 when signed and well-formed, 400/413 otherwise (served by
    `FastPath` in front of Flask; here for an app built without it)."""
    status, text = respond(current_app, request.environ)
    return Response(text, status=status, mimetype="text/plain")


def respond(app, environ) -> tuple[int, str]:
    """Verify, parse and write a webhook's events from its WSGI environ; status and text."""
    return respond_to(
        app,
        declared_length(environ.get("CONTENT_LENGTH")),
        environ.get("HTTP_X_LINE_SIGNATURE"),
        environ["wsgi.input"],
    )


def respond_to(app, content_length: int | None, signature: str | None, stream) -> tuple[int, str]:
    """Verify, parse and write a webhook's events (its declared length, its signature, its
    body as a stream) on the calling thread; status and text."""
    accepted = accept(app, content_length, signature, stream)
    if isinstance(accepted, tuple):
        return accepted
    (sending,) = write_many(app, [accepted])
    if isinstance(sending, Exception):
        raise sending
    events.writer_for(app).sender.wait(sending)
    return OK


OK = (200, "OK\n")


def write_timeout(app) -> float:
    """Seconds a webhook's request waits for its events to be written, at most (then 500)."""
    return events.writer_for(app).timeout


def accept(app, content_length: int | None, signature: str | None, stream) -> list | tuple:
    """A webhook verified and parsed, without the database: its events as the SDK's models
    (malformed ones skipped), or the status and text of its refusal. bot.web's front calls
    it in its event loop: a webhook's HMAC, JSON and parse are ~0.1 ms."""
    wiring: Wiring = app.extensions["todoku"]
    try:
        raw_events = read_webhook(wiring, content_length, signature, stream)
    except WebhookRejected as exc:
        log.info("webhook_rejected", reason=exc.reason, status=exc.status)
        return exc.status, exc.reason + "\n"
    return [event for event in map(parse_event, raw_events) if event is not None]


def write_many(app, webhooks: list[list[Event]]) -> list[list[Future] | Exception]:
    """Write accepted webhooks' events, each exactly once and each webhook's in order, in
    as few transactions as they fit (bot.registration.events), and queue their replies.
    For each webhook: its replies being sent (ReplySender.wait waits for them; a 200 need
    not), or the error that failed it (a 500: LINE delivers it again). bot.web's writer
    thread calls it with every webhook that came in while it wrote the last ones;
    `respond_to` with one."""
    writer = events.writer_for(app)
    if not webhooks:  # a round for the reply threads' languages only: no configuration
        writer.write_languages()
        return []
    _refresh_config(app.extensions["todoku"])
    results = writer.handle_many(webhooks)
    written = [w for w in results if not isinstance(w, Exception)]
    sending = iter(writer.sender.send_many([(w.replies, w.after_commit) for w in written]))
    return [w if isinstance(w, Exception) else next(sending) for w in results]


class FastPath:
    """WSGI in front of Flask: POST /callback is answered by `respond` without Flask's
    request and app contexts, URL routing, hooks and Response (9 % of a webhook's CPU under
    load, py-spy); every other request goes to Flask as before. Like Flask, an error is a
    500 with the error logged (a database error by class and constraint only, bot.logs).
    Under gunicorn, bot.web's front answers POST /callback before any WSGI; this path
    serves WSGI servers (`todoku serve`, the demo) and Flask's test client."""

    def __init__(self, app, inner) -> None:
        self.app = app
        self.inner = inner

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/callback" or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        try:
            status, text = respond(self.app, environ)
        except Exception as exc:
            log.error("webhook_failed", error=type(exc).__name__, exc_info=True)
            status, text = 500, "internal error\n"
        body = text.encode()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [body]


def declared_length(value: str | bytes | None) -> int | None:
    """A Content-Length header's value as a byte count (None: absent or not one)."""
    try:
        length = int(value or "")
    except ValueError:
        return None
    return length if length >= 0 else None


_config_checked = 0.0


def _refresh_config(wiring: Wiring) -> None:
    # Stat-ing the configuration files on every webhook cost ~5% of a webhook's time;
    # once a second per process still picks up a staff edit at once.
    global _config_checked
    now = time.monotonic()
    if now - _config_checked >= 1.0:
        _config_checked = now
        wiring.refresh_config()


def read_webhook(wiring: Wiring, content_length: int | None, signature: str | None, stream) -> list:
    """Check size and signature, then decode the JSON; raise WebhookRejected with a reason."""
    limit = wiring.settings.max_webhook_bytes
    if content_length is not None and content_length > limit:
        raise WebhookRejected(f"body larger than {limit} bytes", status=413)
    if not signature:
        raise WebhookRejected("missing X-Line-Signature header")
    # Never past the declared length (a kept-alive connection's next request follows).
    raw = stream.read(limit + 1 if content_length is None else content_length)
    if len(raw) > limit:
        raise WebhookRejected(f"body larger than {limit} bytes", status=413)
    secret = wiring.settings.channel_secret.get_secret_value().encode()
    expected = base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise WebhookRejected("invalid signature")
    try:
        body = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise WebhookRejected("not a LINE webhook body (JSON)") from None
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise WebhookRejected("not a LINE webhook body (events)")
    return events


def parse_event(raw) -> Event | None:
    """One event as the SDK's model, or None (with a warning) when it is malformed."""
    kind = _safe_type(raw)
    problem = _malformed(raw)
    if problem is None and not Event.get_discriminator_value(raw):
        problem = "unknown type"  # a type newer than the SDK, or one LINE never sends
    if problem is None:
        try:
            return Event.from_dict(raw)
        except Exception as exc:  # pydantic.v1 ValidationError, KeyError, TypeError...
            problem = f"sdk:{type(exc).__name__}"
    log.warning("webhook_event_skipped", event_type=kind, problem=problem)
    return None


def _safe_type(raw) -> str:
    kind = raw.get("type") if isinstance(raw, dict) else None
    return kind if isinstance(kind, str) and EVENT_TYPE.fullmatch(kind) else "invalid"


def _malformed(raw) -> str | None:
    """What makes this event unusable (a short reason without its content), or None."""
    if not isinstance(raw, dict):
        return "not an object"
    if _safe_type(raw) == "invalid":
        return "type"
    if raw.get("mode") not in ("active", "standby"):
        return "mode"
    event_id = raw.get("webhookEventId")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_LENGTH:
        return "webhookEventId"
    token = raw.get("replyToken")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_ID_LENGTH):
        return "replyToken"
    source = raw.get("source")
    if isinstance(source, dict) and source.get("type") == "user":
        user_id = source.get("userId")
        if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
            return "source.userId"
    if _has_nul(raw):
        return "NUL character"
    return None


def _has_nul(value) -> bool:
    # PostgreSQL cannot store NUL in text; LINE never sends one.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
