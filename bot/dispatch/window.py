"""Time arithmetic of delivery: local moments, the rolling week, the next day with room.

Pure functions (no clock, no database): the dispatcher passes `now` and the moments of a
resident's recent notices in, and a property test checks the results against the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot.clock import TOKYO, tokyo
from bot.config import Window

WEEK = dt.timedelta(days=7)  # delivery.max_per_week counts notices in any rolling 7 days


def to_minute(moment: dt.datetime) -> dt.datetime:
    """The moment rounded down to the minute, in Tokyo (a slot's identity)."""
    return tokyo(moment).replace(second=0, microsecond=0)


def inside(window: Window, moment: dt.datetime) -> bool:
    """True when pushes are allowed at `moment`."""
    return window.next_inside(tokyo(moment)) == tokyo(moment)


def room_from(recent: Iterable[dt.datetime], now: dt.datetime, limit: int) -> dt.datetime:
    """The first moment at which fewer than `limit` of `recent` lie in the rolling week."""
    now = tokyo(now)
    in_week = sorted(tokyo(t) for t in recent if tokyo(t) > now - WEEK)
    if len(in_week) < limit:
        return now
    # With k notices in the week, k - limit + 1 of them must age out: the oldest of those
    # that must go leaves the window exactly 7 days after it was sent.
    return in_week[len(in_week) - limit] + WEEK


def next_day_with_room(
    recent: Iterable[dt.datetime], now: dt.datetime, limit: int, window: Window
) -> dt.datetime:
    """When a deferred notice goes out: a later day, with room in the week, inside the window."""
    now = tokyo(now)
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), TOKYO)
    return window.next_inside(max(room_from(recent, now, limit), tomorrow))
