"""Webhook event handlers, dispatched by event type. Handlers return replies; the route sends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from linebot.v3.messaging import Message
from linebot.v3.webhooks import Event, FollowEvent, UnfollowEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Resident, ResidentActivity
from messages import build_welcome


@dataclass
class HandlerContext:
    """What a handler may use: the event's transaction, the wiring and the moment."""

    session: Session
    wiring: object
    now: datetime

    def record(self, kind: str) -> None:
        """Count an anonymous KPI fact (never names the resident)."""
        self.session.add(ResidentActivity(kind=kind, occurred_at=self.now))


Handler = Callable[[HandlerContext, Event], list[Message]]


def find_resident(session: Session, line_user_id: str) -> Resident | None:
    """The resident with this LINE user id, if known."""
    return session.scalar(select(Resident).where(Resident.line_user_id == line_user_id))


def on_follow(ctx: HandlerContext, event: FollowEvent) -> list[Message]:
    """A resident added (or unblocked) the account: create or restore them and welcome them."""
    user_id = event.source.user_id
    resident = find_resident(ctx.session, user_id)
    if resident is None:
        resident = Resident(line_user_id=user_id, following=True, followed_at=ctx.now)
        ctx.session.add(resident)
    else:
        resident.following = True
        resident.followed_at = ctx.now
        resident.unfollowed_at = None
    ctx.record("follow")
    return [build_welcome(ctx.wiring.config.municipality.name)]


def on_unfollow(ctx: HandlerContext, event: UnfollowEvent) -> list[Message]:
    """A resident blocked the account: stop sending; answers are kept for a while."""
    resident = find_resident(ctx.session, event.source.user_id)
    if resident is not None and resident.following:
        resident.following = False
        resident.unfollowed_at = ctx.now
        ctx.record("unfollow")
    return []


HANDLERS: dict[type, Handler] = {
    FollowEvent: on_follow,
    UnfollowEvent: on_unfollow,
}


def handler_for(event: Event) -> Handler | None:
    """The handler for this event, or None for events Todoku ignores (groups, unknown types)."""
    source = getattr(event, "source", None)
    if source is None or getattr(source, "type", None) != "user":
        return None
    return HANDLERS.get(type(event))
