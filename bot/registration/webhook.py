"""POST /callback: verify, parse, record each event once, dispatch by table, reply.

Each event is handled in its own transaction that also inserts its webhookEventId;
a redelivered (or concurrently delivered) event hits the primary key and is skipped.
Replies are sent only after the transaction commits, so a rolled-back event never
speaks to the resident.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import Event
from sqlalchemy.exc import IntegrityError

from bot.errors import SendError, WebhookRejected
from bot.logs import get_logger
from bot.registration.handlers import HandlerContext, handler_for
from bot.store.models import WebhookEvent
from bot.wiring import Wiring

log = get_logger("todoku.webhook")
blueprint = Blueprint("webhook", __name__)


@blueprint.post("/callback")
def callback() -> Response:
    """Receive a LINE webhook: 200 when signed and well-formed, 400/413 otherwise."""
    wiring: Wiring = current_app.extensions["todoku"]
    try:
        events = parse_webhook(wiring)
    except WebhookRejected as exc:
        log.info("webhook_rejected", reason=exc.reason, status=exc.status)
        return Response(exc.reason + "\n", status=exc.status, mimetype="text/plain")
    wiring.refresh_config()
    for event in events:
        handle_event(wiring, event)
    return Response("OK\n", mimetype="text/plain")


def parse_webhook(wiring: Wiring) -> list[Event]:
    """Check size and signature, then parse; raise WebhookRejected with a short reason."""
    limit = wiring.settings.max_webhook_bytes
    if request.content_length is not None and request.content_length > limit:
        raise WebhookRejected(f"body larger than {limit} bytes", status=413)
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        raise WebhookRejected("missing X-Line-Signature header")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise WebhookRejected(f"body larger than {limit} bytes", status=413)
    body = raw.decode("utf-8", errors="replace")
    parser = WebhookParser(wiring.settings.channel_secret.get_secret_value())
    try:
        payload = parser.parse(body, signature, as_payload=True)
    except InvalidSignatureError:
        raise WebhookRejected("invalid signature") from None
    except Exception as exc:  # the SDK raises KeyError/TypeError/ValueError on bad shapes
        raise WebhookRejected(f"not a LINE webhook body ({type(exc).__name__})") from None
    if not isinstance(payload.events, list):
        raise WebhookRejected("not a LINE webhook body (events)")
    return payload.events


def handle_event(wiring: Wiring, event: Event) -> None:
    """Handle one event exactly once and send its replies after commit."""
    event_id = getattr(event, "webhook_event_id", None)
    handler = handler_for(event)
    if handler is None or not event_id:
        log.info("webhook_event_ignored", event_type=_event_type(event), event_id=event_id)
        return
    session = wiring.session_factory()
    try:
        with session.begin():
            _claim(session, event_id, _event_type(event))
            ctx = HandlerContext(session=session, wiring=wiring, now=wiring.clock.now())
            replies = handler(ctx, event)
    except _Duplicate:
        log.info("webhook_event_duplicate", event_id=event_id)
        return
    finally:
        session.close()
    log.info("webhook_event_handled", event_type=_event_type(event), event_id=event_id)
    token = getattr(event, "reply_token", None)
    if replies and token and getattr(event, "mode", "active") == "active":
        try:
            wiring.line.reply(token, replies)
        except SendError as exc:
            log.warning("reply_failed", event_id=event_id, status=exc.status)


class _Duplicate(Exception):
    """The event was handled before (or is being handled by another process)."""


def _claim(session, event_id: str, event_type: str) -> None:
    # Only this insert's IntegrityError means "seen before"; one raised by a handler is a
    # real error and must surface (500, so LINE redelivers and we try again).
    session.add(
        WebhookEvent(
            webhook_event_id=event_id, event_type=event_type, received_at=datetime.now(UTC)
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise _Duplicate from None


def _event_type(event: Event) -> str:
    return str(getattr(event, "type", None) or type(event).__name__)
