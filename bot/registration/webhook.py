"""POST /callback: verify, parse each event on its own, record it once, answer via the outbox.

Each event is handled in its own transaction that also inserts its webhookEventId and,
when the handler answers, its reply (bot.registration.outbox): a redelivered (or
concurrently delivered) event hits the primary key and is skipped. Replies are sent only
after the transaction commits, by a background sender, so a rolled-back event never speaks
to the resident and LINE never waits for the Messaging API (its 2-second deadline).

Two events of one resident may arrive at once (a follow and the consent tap, a double tap
on 削除する). Handlers lock the resident's row (PostgreSQL; SQLite has one writer anyway),
and a transaction that still collides with its twin (both insert the new resident, or the
row it read was deleted meanwhile) is run again from the start, up to three times.

One malformed event (no userId, over-long ids, NUL bytes, missing mode or webhookEventId)
is skipped with a warning naming its type; the other events of the body are handled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import time
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from linebot.v3.webhooks import Event, FollowEvent
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from bot.errors import WebhookRejected
from bot.logs import get_logger
from bot.registration import language, outbox
from bot.registration.handlers import HandlerContext, handler_for
from bot.store import queries
from bot.wiring import Wiring

log = get_logger("todoku.webhook")
blueprint = Blueprint("webhook", __name__)

# A transaction that collides with a concurrent twin is run again at most this many times.
ATTEMPTS = 3
# LINE's ids: user U + 32 hex; webhookEventId a 26-character ULID; reply token 32 hex.
# The limits are looser than LINE's formats (they may change) but fit the columns.
USER_ID = re.compile(r"U[0-9a-f]{32}")
MAX_ID_LENGTH = 64
EVENT_TYPE = re.compile(r"[A-Za-z]{1,40}")
# PostgreSQL: 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


@blueprint.record_once
def _start_sweeper(state) -> None:
    """Each web process sends what an earlier process committed but did not send."""
    outbox.sender_for(state.app).start_sweeper()


@blueprint.post("/callback")
def callback() -> Response:
    """Receive a LINE webhook: 200 when signed and well-formed, 400/413 otherwise."""
    wiring: Wiring = current_app.extensions["todoku"]
    try:
        raw_events = read_webhook(wiring)
    except WebhookRejected as exc:
        log.info("webhook_rejected", reason=exc.reason, status=exc.status)
        return Response(exc.reason + "\n", status=exc.status, mimetype="text/plain")
    _refresh_config(wiring)
    sender = outbox.sender_for(current_app)
    pending = []
    for raw in raw_events:
        event = parse_event(raw)
        if event is not None:
            item = handle_event(wiring, event, sender)
            if item is not None:
                pending.append(item)
    if pending:
        sender.send(pending)
    return Response("OK\n", mimetype="text/plain")


_config_checked = 0.0


def _refresh_config(wiring: Wiring) -> None:
    # Stat-ing the configuration files on every webhook cost ~5% of a webhook's time;
    # once a second per process still picks up a staff edit at once.
    global _config_checked
    now = time.monotonic()
    if now - _config_checked >= 1.0:
        _config_checked = now
        wiring.refresh_config()


def read_webhook(wiring: Wiring) -> list:
    """Check size and signature, then decode the JSON; raise WebhookRejected with a reason."""
    limit = wiring.settings.max_webhook_bytes
    if request.content_length is not None and request.content_length > limit:
        raise WebhookRejected(f"body larger than {limit} bytes", status=413)
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        raise WebhookRejected("missing X-Line-Signature header")
    raw = request.stream.read(limit + 1)
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


def handle_event(
    wiring: Wiring, event: Event, sender: outbox.ReplySender | None = None
) -> outbox.Pending | None:
    """Handle one event exactly once; returns its committed reply, to send after commit.

    With `sender`, the transaction also deletes the rows of replies it has sent meanwhile
    (outbox.ReplySender.take_sent), instead of another transaction doing it.
    """
    event_id = event.webhook_event_id
    handler = handler_for(event)
    if handler is None:
        log.info("webhook_event_ignored", event_type=_event_type(event))
        return None
    asked, was_asked = None, False
    if isinstance(event, FollowEvent) and getattr(event.source, "user_id", None):
        asked = language.profile_language(wiring, event.source.user_id)  # outside the lock
        was_asked = True
    for attempt in range(1, ATTEMPTS + 1):
        session = wiring.session_factory()
        try:
            item = _handle_once(wiring, session, event, handler, asked, was_asked, sender)
        except _Duplicate:
            log.info("webhook_event_duplicate", event_id=event_id)
            # A redelivery: its reply may still be waiting (the first process died).
            return outbox.due_for_event(wiring, event_id)
        except (IntegrityError, StaleDataError, DBAPIError) as exc:
            if attempt == ATTEMPTS or not _collision(exc):
                raise
            # The twin committed first: run again, now seeing its rows.
            log.info("webhook_event_retry", event_id=event_id, error=type(exc).__name__)
            time.sleep(random.uniform(0, 0.01 * attempt))
            continue
        finally:
            session.close()
        log.info("webhook_event_handled", event_type=_event_type(event), event_id=event_id)
        return item
    return None


def _handle_once(
    wiring: Wiring, session, event: Event, handler, asked, was_asked, sender
) -> outbox.Pending | None:
    """One attempt: the event's claim, its handler and its reply in one transaction."""
    sent: list[str] = []
    try:
        # SQLite: queue for its one writer here, not in its busy handler (writegate).
        with wiring.write_gate.passage(), session.begin():
            received = datetime.now(UTC)
            _claim(session, event.webhook_event_id, _event_type(event), received)
            if sender is not None:
                sent = sender.take_sent()
                if sent:
                    session.execute(queries.delete_sent_replies(sent))
            ctx = HandlerContext(
                session=session,
                wiring=wiring,
                now=wiring.clock.now(),
                profile_language=asked,
                profile_asked=was_asked,
            )
            replies = handler(ctx, event)
            return outbox.store(session, wiring.settings, event, replies, received)
    except BaseException:
        if sender is not None:
            sender.give_back(sent)  # their deletion was rolled back with the event
        raise


def _collision(exc: Exception) -> bool:
    """True for errors a concurrent transaction of the same resident causes."""
    if isinstance(exc, IntegrityError | StaleDataError):
        return True
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    return "database is locked" in str(orig)  # SQLite's busy timeout ran out


class _Duplicate(Exception):
    """The event was handled before (or is being handled by another process)."""


def _claim(session, event_id: str, event_type: str, received: datetime) -> None:
    # Only this insert's IntegrityError means "seen before"; one raised by a handler is a
    # collision with a twin (retried) or a real error (500, so LINE redelivers).
    # A Core INSERT, not an ORM object: the unit of work cost more than the statement.
    try:
        session.execute(
            queries.claim_event(),
            {"webhook_event_id": event_id, "event_type": event_type, "received_at": received},
        )
    except IntegrityError:
        raise _Duplicate from None


def _event_type(event: Event) -> str:
    return str(getattr(event, "type", None) or type(event).__name__)
