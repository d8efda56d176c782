"""Webhook event handlers, dispatched by event type. Handlers return replies; the route sends.

Postbacks are dispatched a second time, by their `a` field (see messages.postback).
Nothing here logs a resident's answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from linebot.v3.messaging import Message
from linebot.v3.webhooks import Event, FollowEvent, MessageEvent, PostbackEvent, UnfollowEvent
from sqlalchemy.orm import Session

from bot.line.gateway import replyable
from bot.registration import dialog, family, language
from bot.registration import menu as registration
from bot.registration.feedback import program_feedback
from bot.registration.language import lang_of
from bot.store import queries
from bot.store.models import LANGUAGE_ASKING, Resident
from messages import (
    FEEDBACK_ACTION,
    LANGUAGE_ACTION,
    decode,
)
from messages.prebuilt import build_not_registered, build_note, build_start_again, build_welcome


@dataclass
class HandlerContext:
    """What a handler may use: the event's transaction, the wiring and the moment."""

    session: Session
    wiring: object
    now: datetime
    # What to do once the transaction has committed (calls to LINE: a rich menu's link),
    # run by the webhook's writer off the request thread; None: run at once.
    actions: list[Callable[[], None]] | None = None
    # Residents read for the whole batch before its handlers (bot.registration.events),
    # by LINE id (None: unknown): given by `resident`.
    read_ahead: dict[str, Resident | None] | None = None
    # The batch's KPI facts, inserted in one statement after its handlers (`record`);
    # None: each at once.
    activities: list[dict] | None = None

    def resident(self, line_user_id: str) -> Resident | None:
        """The resident with this LINE user id, if known, their row held to commit: read
        ahead with the batch's others. A resident's later event in the batch gets the same
        object, with what the earlier ones changed (a new query would return it from the
        session's identity map as it is, after a flush: ~0.1 ms of a webhook event's CPU
        under load, docs/benchmarks.md). Read now when nobody was read ahead, when an
        earlier event deleted them, and for a later event of someone unknown (their
        follow may have stored them since)."""
        if self.read_ahead is not None and line_user_id in self.read_ahead:
            resident = self.read_ahead[line_user_id]
            if resident is None:
                del self.read_ahead[line_user_id]
                return None
            # Deleted by an earlier event: in `deleted` until the flush, then out of the
            # session.
            if resident in self.session and resident not in self.session.deleted:
                return resident
            del self.read_ahead[line_user_id]
        found = find_resident(self.session, line_user_id, lock=True)
        if found is not None and self.read_ahead is not None:
            self.read_ahead[line_user_id] = found  # for their next event in the batch
        return found

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` after the commit, so a call to LINE never holds the transaction
        (SQLite's one writer, the resident's lock); dropped if it rolls back."""
        if self.actions is None:
            action()
        else:
            self.actions.append(action)

    def record(self, kind: str) -> None:
        """Count an anonymous KPI fact (never names the resident), in this transaction."""
        fact = {"kind": kind, "occurred_at": self.now}
        if self.activities is not None:
            self.activities.append(fact)
        else:
            record_all(self.session, [fact])


Handler = Callable[[HandlerContext, Event], list[Message]]


def record_all(session: Session, facts: list[dict]) -> None:
    """Insert anonymous KPI facts (`HandlerContext.record`) in one statement."""
    if facts:
        # On the session's connection: a Core INSERT needs none of Session.execute's work.
        session.connection().execute(queries.record_activity(), facts)


def find_resident(session: Session, line_user_id: str, *, lock: bool = False) -> Resident | None:
    """The resident with this LINE user id, if known; `lock` holds their row to commit."""
    return session.scalar(queries.resident_by_line_id(lock=lock), {"line_user_id": line_user_id})


def read_ahead(session: Session, line_user_ids: list[str]) -> dict[str, Resident | None]:
    """The residents with these LINE user ids (None: unknown), their rows held to commit,
    in one query: the ORM's setup of a query cost more than reading one row (~200 µs of a
    webhook event's CPU under load, docs/benchmarks.md), so a batch pays it once."""
    found = {line_user_id: None for line_user_id in line_user_ids}
    if line_user_ids:
        query = queries.residents_by_line_ids()
        for resident in session.scalars(query, {"line_user_ids": line_user_ids}):
            found[resident.line_user_id] = resident
    return found


def on_follow(ctx: HandlerContext, event: FollowEvent) -> list[Message]:
    """A resident added (or unblocked) the account: create or restore them and welcome them."""
    user_id = event.source.user_id
    resident = ctx.resident(user_id)
    ctx.record("follow")
    if resident is None:
        # Only the LINE user id is stored before consent; the welcome is built in their
        # LINE app's language by the reply thread, which asks LINE for it.
        return language.welcome_later(ctx, user_id, answered=replyable(event))
    resident.following = True
    resident.followed_at = ctx.now
    resident.unfollowed_at = None
    resident.mirror_to_profiles()
    if resident.consented_at is None:
        if resident.language == LANGUAGE_ASKING:  # a second follow before the first's welcome
            return [language.WELCOME_LATER] if replyable(event) else []
        lang = lang_of(resident)
        return [*build_welcome(ctx.wiring.config.municipality.name_in(lang), lang)]
    lang = lang_of(resident)
    # Back within the retention time: the answers are still here; nothing is asked again.
    return [build_note("welcome_back", lang), *registration.resume(ctx, resident)]


def on_unfollow(ctx: HandlerContext, event: UnfollowEvent) -> list[Message]:
    """A resident blocked the account: stop sending; answers are kept for a while."""
    resident = ctx.resident(event.source.user_id)
    if resident is not None and resident.following:
        resident.following = False
        resident.unfollowed_at = ctx.now
        resident.mirror_to_profiles()  # no notices for the family either
        ctx.record("unfollow")
    return []


def on_message(ctx: HandlerContext, event: MessageEvent) -> list[Message]:
    """Text, stickers, photos...: a typed answer, or the city's phone, counter and menu."""
    resident = ctx.resident(event.source.user_id)
    if resident is None:
        return [build_start_again()]  # nobody known: Japanese, with the choice of language
    text = getattr(event.message, "text", None)
    return registration.free_text(ctx, resident, text if isinstance(text, str) else None)


def on_postback(ctx: HandlerContext, event: PostbackEvent) -> list[Message]:
    """A button or the date picker: dispatch by the postback's action."""
    fields = decode(event.postback.data)
    resident = ctx.resident(event.source.user_id)
    action = POSTBACKS.get(fields.get("a", ""))
    if action is None:
        return registration.resume(ctx, resident) if resident else []
    return action(ctx, resident, fields, event)


def _answer(ctx, resident, fields, event) -> list[Message]:
    if resident is None:
        return [build_start_again()]
    if not dialog.in_progress(resident):
        # A button of a question that is no longer open (finished, or another device).
        return (
            [dialog.review(ctx, resident)]
            if resident.consented_at
            else [build_not_registered(lang_of(resident))]
        )
    return dialog.answer(ctx, resident, fields, _picked_date(event))


def _picked_date(event: PostbackEvent) -> dt.date | None:
    """The date picker's date (YYYY-MM-DD, a local date: the picker has no time zone)."""
    params = event.postback.params or {}
    raw = params.get("date") if isinstance(params, dict) else None
    try:
        return dt.date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


POSTBACKS: dict[str, Callable[..., list[Message]]] = {
    "consent": lambda ctx, r, f, e: registration.consent(ctx, r, e.source.user_id),
    "later": lambda ctx, r, f, e: registration.later(ctx, r),
    "ans": _answer,
    "skip": _answer,
    "done": _answer,
    "page": _answer,
    "menu": lambda ctx, r, f, e: registration.menu(ctx, r, f.get("v")),
    "edit": lambda ctx, r, f, e: registration.edit(ctx, r, f.get("q"), f.get("w")),
    "family": family.on_postback,  # 家族の登録: add, review, change, delete a profile
    "delete": lambda ctx, r, f, e: registration.delete(ctx, r, f.get("v")),
    FEEDBACK_ACTION: program_feedback,  # 申請済み / 対象外・不要 / 元に戻す on a notice
    LANGUAGE_ACTION: lambda ctx, r, f, e: registration.choose_language(
        ctx, r, e.source.user_id, f.get("v")
    ),
}

HANDLERS: dict[type, Handler] = {
    FollowEvent: on_follow,
    UnfollowEvent: on_unfollow,
    MessageEvent: on_message,
    PostbackEvent: on_postback,
}


def handler_for(event: Event) -> Handler | None:
    """The handler for this event, or None for events Todoku ignores (groups, unknown types)."""
    source = getattr(event, "source", None)
    if source is None or getattr(source, "type", None) != "user":
        return None
    return HANDLERS.get(type(event))
