"""Typed, frozen models of the staff configuration (shared/design/config.md).

Checks that need the municipality (topics, districts, link hosts) read them from the
pydantic validation context, so each program and campaign validates on its own and
every mistake is reported, not just the first.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from segments.rules import Rule, Topic

TOKYO = ZoneInfo("Asia/Tokyo")
_ID = re.compile(r"[a-z0-9-]+")
_TIME = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")


class Strict(BaseModel):
    """Frozen, and an unknown key (a typo such as `eligble`) is a problem."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise PydanticCustomError(
            "bad_id",
            "id '{value}' may only use a-z, 0-9 and '-'; "
            "use lowercase letters, digits and hyphens, e.g. senior-smartphone",
            {"value": value},
        )
    return value


def _check_url(value: str, info: ValidationInfo) -> str:
    """An https URL whose host is one of municipality.link_hosts (when known)."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise PydanticCustomError(
            "bad_url", "'{url}' is not an https URL; write a full https:// address", {"url": value}
        )
    hosts = (info.context or {}).get("link_hosts")
    if hosts is not None and parts.hostname not in hosts:
        raise PydanticCustomError(
            "unknown_host",
            "host '{host}' is not in municipality.link_hosts; "
            "valid hosts: {hosts} (or add it to link_hosts)",
            {"host": parts.hostname, "hosts": ", ".join(hosts)},
        )
    return value


def _clock(value: str) -> int:
    """Minutes since midnight for 'HH:MM' (24:00 allowed as the end of the day)."""
    match = _TIME.fullmatch(value.strip())
    minutes = int(match[1]) * 60 + int(match[2]) if match else -1
    if not 0 <= minutes <= 24 * 60:
        raise PydanticCustomError(
            "bad_time",
            "'{value}' is not a time of day; write HH:MM, e.g. \"10:00\"",
            {"value": value},
        )
    return minutes


def _unique(values: list[str]) -> list[str]:
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise PydanticCustomError(
            "duplicate_name",
            "listed twice: {names}; list each name once",
            {"names": ", ".join(twice)},
        )
    return values


Id = Annotated[str, AfterValidator(_check_id)]
Url = Annotated[str, AfterValidator(_check_url)]
Text = Annotated[str, Field(min_length=1)]
Names = Annotated[list[Text], Field(min_length=1), AfterValidator(_unique)]


class Municipality(Strict):
    """Who runs the account, where links may point, and the names rules may use."""

    name: Text
    homepage: Url
    link_hosts: Annotated[list[Text], Field(min_length=1)]
    districts: Names
    topics: Names


class Window(Strict):
    """Hours in which pushes are allowed, [start, end) local time; 00:00-24:00 = always."""

    start: dt.time
    end: dt.time | None = None  # None: up to midnight (24:00)

    @property
    def always(self) -> bool:
        """True when pushes are allowed at any time of day."""
        return self.start == dt.time(0) and self.end is None

    def next_inside(self, moment: dt.datetime) -> dt.datetime:
        """`moment` if pushes are allowed then, else the next moment when they are."""
        at = moment.time().replace(tzinfo=None)
        if at < self.start:
            return moment.replace(
                hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
            )
        if self.end is not None and at >= self.end:
            next_day = moment + dt.timedelta(days=1)
            return next_day.replace(
                hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
            )
        return moment


def _parse_window(value: Any) -> Any:
    if isinstance(value, Window) or not isinstance(value, str):
        return value
    start, sep, end = value.partition("-")
    begin, finish = _clock(start) if sep else -1, _clock(end) if sep else -1
    if not sep or not 0 <= begin < finish or begin == 24 * 60:
        raise PydanticCustomError(
            "bad_window",
            "'{value}' is not a time window; write "
            '"HH:MM-HH:MM" with start before end, e.g. "08:00-20:00"',
            {"value": value},
        )
    return {
        "start": dt.time(begin // 60, begin % 60),
        "end": None if finish == 24 * 60 else dt.time(finish // 60, finish % 60),
    }


def _parse_send_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    minutes = _clock(value)
    if minutes == 24 * 60:
        raise PydanticCustomError("bad_time", "24:00 is not a send time; use 00:00-23:59", {})
    return dt.time(minutes // 60, minutes % 60)


class Delivery(Strict):
    """When pushes may go out and how many a resident gets per week."""

    window: Annotated[Window, BeforeValidator(_parse_window)]
    send_time: Annotated[dt.time, BeforeValidator(_parse_send_time)]
    max_per_week: Annotated[int, Field(ge=1, le=50)]


class Target(Strict):
    """A KPI target to reach by a date."""

    target: Annotated[int, Field(ge=0)]
    by: dt.date


class KpiTargets(Strict):
    """The plan's KPI targets shown on the dashboard; any may be left out."""

    registrations: Target | None = None
    programs_distributed: Target | None = None
    homepage_visits_per_month: Annotated[int, Field(ge=0)] | None = None


class MunicipalityFile(Strict):
    """municipality.yaml as a whole."""

    municipality: Municipality
    delivery: Delivery
    kpi: KpiTargets = KpiTargets()


class Period(Strict):
    """An application period, both days inclusive (local dates)."""

    opens: dt.date
    closes: dt.date

    @field_validator("closes")
    @classmethod
    def _not_before_opens(cls, closes: dt.date, info: ValidationInfo) -> dt.date:
        opens = info.data.get("opens")
        if opens is not None and closes < opens:
            raise PydanticCustomError(
                "closes_before_opens",
                "closes ({closes}) is before opens ({opens}); closes must be on or after opens",
                {"closes": str(closes), "opens": str(opens)},
            )
        return closes

    def contains(self, day: dt.date) -> bool:
        """True if `day` is inside the period."""
        return self.opens <= day <= self.closes


class Program(Strict):
    """A subsidy or support program (補助・助成) and who is eligible."""

    id: Id
    name: Text
    summary: Text
    topic: Topic
    homepage: Url
    apply_url: Url | None = None
    department: Text | None = None
    contact: Text | None = None
    period: Period
    eligible: Rule | None = None  # None: every registered resident

    def is_open(self, day: dt.date) -> bool:
        """True if applications are accepted on `day`."""
        return self.period.contains(day)


def _parse_days(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\d{1,4}d", value.strip()):
        return int(value.strip()[:-1])
    raise PydanticCustomError(
        "bad_days",
        "'{value}' is not a number of days; write it like 30d",
        {"value": str(value)[:40]},
    )


def _local(value: dt.datetime) -> dt.datetime:
    # A time without a zone is local time in Japan (config.md).
    return value.replace(tzinfo=TOKYO) if value.tzinfo is None else value.astimezone(TOKYO)


Days = Annotated[int, BeforeValidator(_parse_days)]


class SendSlot(Strict):
    """One send time: `at` a local date-time, or days before close / after open."""

    at: Annotated[dt.datetime, AfterValidator(_local)] | None = None
    before_close: Days | None = None
    after_open: Days | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SendSlot:
        given = [k for k in ("at", "before_close", "after_open") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "slot_shape",
                "a send slot has exactly one key, got {n}; use one of "
                "at: 2026-05-01 10:00, before_close: 30d, after_open: 0d",
                {"n": len(given)},
            )
        return self

    @property
    def is_reminder(self) -> bool:
        """Reminders go again to residents told in earlier slots (config.md)."""
        return self.before_close is not None


class Campaign(Strict):
    """When to send a program's notice, and to which narrower audience."""

    id: Id
    program: Text
    audience: Rule | None = None
    send: Annotated[list[SendSlot], Field(min_length=1)]
    lead: Text | None = None
