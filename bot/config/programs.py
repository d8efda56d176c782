"""Typed, frozen models of programs.yaml and campaigns.yaml (shared/design/config.md)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.config.models import (
    TOKYO,
    Id,
    Strict,
    Text,
    TranslationLanguage,
    Url,
)
from segments.rules import Rule, Topic


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


class ProgramTranslation(Strict):
    """A program's name and summary in one language; either may be left out (then the
    notice shows the Japanese, and says so)."""

    name: Text | None = None
    summary: Text | None = None


class CampaignTranslation(Strict):
    """A campaign's lead line in one language."""

    lead: Text | None = None


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
    eligible: Rule | None = None  # left out: every registered resident
    # name/summary per language: {en: {name: …, summary: …}, vi: …, ja-easy: …} (add-only:
    # left out, residents of other languages see the Japanese with a note saying so).
    translations: dict[TranslationLanguage, ProgramTranslation] = Field(default_factory=dict)

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
    audience: Rule | None = None  # left out: the program's eligible residents
    send: Annotated[list[SendSlot], Field(min_length=1)]
    lead: Text | None = None
    translations: dict[TranslationLanguage, CampaignTranslation] = Field(default_factory=dict)
