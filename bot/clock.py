"""The clock port: the shell reads time here so the core can take `now` as an argument."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(moment: datetime) -> datetime:
    """The same moment as an aware Asia/Tokyo datetime (naive input is taken as Tokyo).

    Local dates (a slot's day, "tomorrow", the delivery window, a month in the KPIs) are
    Tokyo dates whatever zone a value arrived in (APScheduler, ISO strings from the CLI).
    """
    return moment.replace(tzinfo=TOKYO) if moment.tzinfo is None else moment.astimezone(TOKYO)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, aware, in Asia/Tokyo."""
        ...


class SystemClock:
    """Real time, in Asia/Tokyo."""

    def now(self) -> datetime:
        """The current moment in Asia/Tokyo."""
        return datetime.now(TOKYO)


class FixedClock:
    """A clock for tests and previews that moves only when told."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        """The moment this clock is set to, in Asia/Tokyo."""
        return self._at.astimezone(TOKYO)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self._at += delta

    def set(self, at: datetime) -> None:
        """Jump to another moment."""
        self._at = at


class RunningClock:
    """A clock that starts at a chosen moment and then runs at real speed (the demo's).

    It reads the monotonic clock only, so neither the machine's date nor its time of day
    changes what it says: `todoku demo` behaves the same at 06:00 and in any year.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("RunningClock needs a timezone-aware datetime")
        self._start = start
        self._began = time.monotonic()

    def now(self) -> datetime:
        """The start moment plus the real time elapsed since this clock was made."""
        return self._start + timedelta(seconds=time.monotonic() - self._began)


@dataclass(frozen=True)
class Periodic:
    """A job a package asks the clock process's active scheduler to run every `seconds`,
    first at start, with the process's Wiring (bot.dispatch.scheduler.run_scheduler)."""

    id: str
    func: Callable[[Any], object]
    seconds: float
