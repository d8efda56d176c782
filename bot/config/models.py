"""Typed, frozen models of municipality.yaml, and the value types all three files share.

Checks that need the municipality (topics, districts, link hosts) read them from the
pydantic validation context, so each program and campaign validates on its own and
every mistake is reported, not just the first.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from segments.profile import QUESTIONS
from segments.rules import Rule

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


_PHONE = re.compile(r"0\d{1,4}-\d{1,4}-\d{3,4}|0\d{9,10}")


def _check_phone(value: str) -> str:
    if not _PHONE.fullmatch(value.strip()):
        raise PydanticCustomError(
            "bad_phone",
            "'{value}' is not a phone number; write it like 0237-55-2111",
            {"value": value},
        )
    return value.strip()


class Contact(Strict):
    """The city's own analog route (代表電話・窓口), shown where a program names none."""

    phone: Annotated[str, AfterValidator(_check_phone)] | None = None
    counter: Text | None = None


# The languages a staff-written text may be translated into (Japanese is the text itself):
# messages.languages.LANGUAGES without "ja" (tests/config/test_translations.py keeps them so).
TranslationLanguage = Literal["ja-easy", "en", "vi"]
TRANSLATION_LANGUAGES: tuple[str, ...] = ("ja-easy", "en", "vi")


class MunicipalityTranslation(Strict):
    """The city's name and its topics' names in one language (districts stay as written:
    they are place names). A topic left out is shown as written."""

    name: Text | None = None
    topics: dict[str, Text] = Field(default_factory=dict)


class Municipality(Strict):
    """Who runs the account, where links may point, and the names rules may use."""

    name: Text
    homepage: Url
    link_hosts: Annotated[list[Text], Field(min_length=1)]
    districts: Names
    topics: Names
    contact: Contact | None = None  # optional; `config check` warns when programs need it
    # {en: {name: Murayama City, topics: {子育て: Parenting, …}}, vi: …, ja-easy: …}
    translations: dict[TranslationLanguage, MunicipalityTranslation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _translated_topics_exist(self) -> Municipality:
        for translation in self.translations.values():
            for topic in translation.topics:
                if topic not in self.topics:
                    raise PydanticCustomError(
                        "unknown_topic",
                        "translations name the topic '{topic}', which is not in topics; "
                        "use one of {topics}",
                        {"topic": topic, "topics": ", ".join(self.topics)},
                    )
        return self

    def name_in(self, lang: str) -> str:
        """The city's name in `lang` (as written when not translated)."""
        translation = self.translations.get(lang)
        return (translation and translation.name) or self.name

    def topic_names(self, lang: str) -> dict[str, str]:
        """Each topic's name in `lang` (as written when not translated)."""
        translation = self.translations.get(lang)
        names = translation.topics if translation else {}
        return {topic: names.get(topic, topic) for topic in self.topics}


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


QuestionName = Literal[QUESTIONS]  # type: ignore[valid-type]


class Question(Strict):
    """Settings of one registration question."""

    # Asked only of residents for whom this rule holds on the day they register, read
    # with the answers given so far (a question not asked yet counts as not answered).
    ask_if: Rule


class MunicipalityFile(Strict):
    """municipality.yaml as a whole."""

    municipality: Municipality
    delivery: Delivery
    kpi: KpiTargets = KpiTargets()
    questions: dict[QuestionName, Question] = {}
