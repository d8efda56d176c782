"""The registration questions: text with quick replies, LINE's date picker, or typing.

`build_question(ask)` dispatches by the question's step name. Every question but consent
offers 答えない; each button's postback carries the step token `ask.token`.

Dates (the resident's and each child's birth date) are typed (昭和21年5月3日, 1946/5/3…,
see messages.dates.parse_date) or tapped without scrolling: 元号 → (年の範囲) → 年 → 月 as
quick replies, then the day by a picker confined to that month, or typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from linebot.v3.messaging import (
    Action,
    DatetimePickerAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from messages.dates import ERAS, era_start, era_year, era_year_label, readback_date
from messages.languages import DEFAULT, WESTERN, join_list
from messages.postback import encode
from messages.texts import say
from segments.calendar import (  # noqa: F401  (re-exported: the dialog's date bounds)
    OLDEST_YEARS,
    PARENT_MIN_AGE,
    earliest_birth,
    earliest_child_birth,
    years_before,
)
from segments.profile import QUESTIONS

STEPS = QUESTIONS  # the dialog's steps: every question, in the order asked
MAX_ITEMS = 13  # LINE: at most 13 quick reply buttons
MAX_LABEL = 20  # LINE: quick reply labels are at most 20 characters
MAX_HOUSEHOLD = 10  # "10人以上" is stored as 10
OLDEST_ERA_YEARS = 110  # the resident's era buttons cover the last 110 years (more: typing)
YOUNGEST_RESIDENT = 10  # ... down to 10 years ago (令和 is not offered for the resident)
CHILD_YEARS = 18  # the children question concerns children up to 18


@dataclass(frozen=True)
class Ask:
    """Everything one question needs to be shown (the bot fills it from the dialog state)."""

    step: str
    token: int
    today: dt.date
    progress: tuple[int, int] | None = None  # (this question, number of questions)
    choices: tuple[str, ...] = ()  # districts, or topics
    chosen: frozenset[str] = frozenset()  # topics chosen so far
    children: int = 0  # children given so far in this answer
    parent_birth: dt.date | None = None
    page: int = 0
    note: str | None = None  # a TEXTS name said before the question (a kind re-prompt)
    progress_exact: bool = True  # False: progress[1] is an upper bound (later answers decide)
    # A date being tapped in parts: the era, the first era-year of a range, the year, month.
    era: str | None = None
    decade: int | None = None
    year: int | None = None
    month: int | None = None
    last_child: dt.date | None = None  # the child just added (read back)
    repeat: bool = False  # asked again after a tap that does not end the question (a topic)
    lang: str = DEFAULT  # the resident's language (messages.languages)
    # How each choice is shown in that language (topics: municipality translations); the
    # postback carries the choice itself.
    labels: Mapping[str, str] = field(default_factory=dict)
    about: str | None = None  # 【お母さま（母）についてお聞きします】: a family member's question


def build_question(ask: Ask) -> TextMessage:
    """The question `ask.step`, with its progress hint and answer buttons."""
    part = _date_part(ask) if ask.step in DATE_STEPS else None
    text, items = part if part else _QUESTIONS[ask.step](ask)
    if ask.progress:
        n, total = ask.progress
        hint = (
            say("progress", ask.lang, n=n, total=total)
            if ask.progress_exact or n == total
            else say("progress_at_most", ask.lang, n=n, left=total - n)
        )
        text = text if ask.repeat else hint + text
    if ask.about:
        text = ask.about + "\n" + text
    if ask.note:
        text = say(ask.note, ask.lang) + "\n\n" + text
    return TextMessage(
        text=text, quickReply=QuickReply(items=[QuickReplyItem(action=a) for a in items])
    )


def _tap(
    ask: Ask, label: str, action: str = "ans", value: str | None = None, echo: str | None = None
) -> PostbackAction:
    return PostbackAction(
        label=_fit(label),
        data=encode(action, q=ask.step, v=value, t=ask.token),
        displayText=echo or label,
    )


def _skip(ask: Ask) -> PostbackAction:
    return _tap(ask, say("label_skip", ask.lang), action="skip")


def _picker(
    ask: Ask, label: str, lowest: dt.date, initial: dt.date, highest: dt.date | None = None
) -> DatetimePickerAction:
    # No time zones in the picker (LINE): the day is read as a local (Asia/Tokyo) date.
    highest = highest or ask.today
    initial = min(max(initial, lowest), highest)
    return DatetimePickerAction(
        label=label,
        data=encode("ans", q=ask.step, t=ask.token),
        mode="date",
        initial=initial.isoformat(),
        min=lowest.isoformat(),
        max=highest.isoformat(),
    )


def _fit(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


DATE_STEPS = ("birth_date", "children")
INITIAL_AGE = 70  # the calendar opens 70 years back: four in ten residents are 65 or over
INITIAL_CHILD_AGE = 5


def date_bounds(ask: Ask) -> tuple[dt.date, dt.date]:
    """The earliest and latest day a date answer to `ask` may be."""
    if ask.step == "children":
        return earliest_child_birth(ask.today, ask.parent_birth), ask.today
    return earliest_birth(ask.today), ask.today


def _eras(low: dt.date, high: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """The eras overlapping [low, high], newest last, each clipped to the range."""
    found = []
    ends = [dt.date.max] + [start - dt.timedelta(days=1) for start, _ in ERAS[:-1]]
    for (start, era), end in zip(ERAS, ends, strict=True):
        if start <= high and end >= low:
            found.append((era, max(start, low), min(end, high)))
    return found[::-1]


def _era_buttons(ask: Ask) -> list[Action]:
    """元号 buttons (昭和生まれ…) for the years residents are likely to have been born in.

    None in English and Vietnamese: those residents know their Western year (calendar
    or typing)."""
    if ask.lang in WESTERN:
        return []
    low, high = date_bounds(ask)
    if ask.step == "children":
        low = max(low, years_before(ask.today, CHILD_YEARS + 1))
        order = lambda eras: eras[::-1]  # noqa: E731 — 令和 first for children
    else:
        low = max(low, years_before(ask.today, OLDEST_ERA_YEARS))
        high = min(high, years_before(ask.today, YOUNGEST_RESIDENT))
        order = lambda eras: eras  # noqa: E731 — 昭和 before 平成: the likelier first
    eras = [e for e, _, _ in _eras(low, high)]
    if ask.step != "children" and "昭和" in eras:
        eras.remove("昭和")
        eras.insert(0, "昭和")
    return [_tap(ask, say("label_era", ask.lang, era=e), value=f"era:{e}") for e in order(eras)]


def _era_span(ask: Ask) -> tuple[dt.date, dt.date]:
    """The allowed days inside the tapped era (the whole allowed range if it is unknown)."""
    low, high = date_bounds(ask)
    for era, start, end in _eras(low, high):
        if era == ask.era:
            return start, end
    return low, high


def _era_range(ask: Ask) -> tuple[int, int]:
    """The first and last era-year numbers of `ask.era` inside the allowed range."""
    low, high = date_bounds(ask)
    for era, start, end in _eras(low, high):
        if era == ask.era:
            return era_year(start)[1], era_year(end)[1]
    return 1, 0


def _date_part(ask: Ask) -> tuple[str, list[Action]] | None:
    """The next part of a tapped date, or None when no era has been tapped yet."""
    if ask.era is None:
        return None
    again = _tap(ask, say("label_date_restart", ask.lang), value="restart")
    if ask.year is not None and ask.month is not None:
        low, high = _era_span(ask)
        first = dt.date(ask.year, ask.month, 1)
        last = (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
        lowest, highest = max(first, low), min(last, high)
        picker = _picker(ask, say("label_pick_day", ask.lang), lowest, lowest, highest)
        month = f"{era_year_label(*era_year(first))}{ask.month}月"
        return say("q_date_day", ask.lang, month=month), [picker, again]
    if ask.year is not None:
        low, high = _era_span(ask)
        months = [
            m
            for m in range(1, 13)
            if (ask.year, m) >= (low.year, low.month) and (ask.year, m) <= (high.year, high.month)
        ]
        label = era_year_label(*era_year(dt.date(ask.year, 12, 31)))
        if ask.era and era_start(ask.era).year == ask.year:
            label = era_year_label(ask.era, 1)
        items: list[Action] = [
            _tap(ask, say("label_month", ask.lang, m=m), value=f"m:{m}") for m in months
        ]
        return say("q_date_month", ask.lang, year=label, western=ask.year), [*items, again]
    first, last = _era_range(ask)
    start_year = era_start(ask.era).year
    if last - first + 1 > MAX_ITEMS - 2 and ask.decade is None:
        ranges = [(a, min(a + 9, last)) for a in range(first - (first - 1) % 10, last + 1, 10)]
        items = [
            _tap(
                ask,
                say(
                    "label_years",
                    ask.lang,
                    era=ask.era,
                    a=max(a, first),
                    b=b,
                    wa=start_year + max(a, first) - 1,
                    wb=start_year + b - 1,
                ),
                value=f"dec:{max(a, first)}",
            )
            for a, b in ranges
        ]
        return say("q_date_decade", ask.lang, era=ask.era), [*items, again]
    if ask.decade is not None:
        first, last = max(first, ask.decade), min(last, ask.decade - (ask.decade - 1) % 10 + 9)
    items = [
        _tap(
            ask,
            f"{era_year_label(ask.era, n)}（{start_year + n - 1}）",
            value=f"y:{start_year + n - 1}",
        )
        for n in range(first, last + 1)
    ]
    return say("q_date_year", ask.lang, era=ask.era), [*items, again]


def _birth_date(ask: Ask) -> tuple[str, list[Action]]:
    low, _ = date_bounds(ask)
    initial = years_before(ask.today, INITIAL_AGE)
    picker = _picker(ask, say("label_pick_calendar", ask.lang), low, initial)
    return say("q_birth_date", ask.lang), [*_era_buttons(ask), picker, _skip(ask)]


def _paged(ask: Ask, fixed: int, more: str) -> tuple[list[str], Action | None]:
    """The choices on this page, and a "more" button when they do not fit in one message."""
    room = MAX_ITEMS - fixed
    if len(ask.choices) <= room:
        return list(ask.choices), None
    size = room - 1
    pages = -(-len(ask.choices) // size)
    page = ask.page % pages
    shown = list(ask.choices[page * size : (page + 1) * size])
    return shown, _tap(ask, say(more, ask.lang), "page")


def _district(ask: Ask) -> tuple[str, list[Action]]:
    shown, more = _paged(ask, fixed=1, more="label_next_page")
    items: list[Action] = [_tap(ask, name, value=name) for name in shown]
    return say("q_district", ask.lang), [*items, *([more] if more else []), _skip(ask)]


def _household_size(ask: Ask) -> tuple[str, list[Action]]:
    items: list[Action] = [
        _tap(ask, say("persons", ask.lang, n=n), value=str(n)) for n in range(1, MAX_HOUSEHOLD)
    ]
    most = say("persons_or_more", ask.lang, n=MAX_HOUSEHOLD)
    items.append(_tap(ask, most, value=str(MAX_HOUSEHOLD)))
    return say("q_household_size", ask.lang), [*items, _skip(ask)]


def _children(ask: Ask) -> tuple[str, list[Action]]:
    lowest, _ = date_bounds(ask)
    initial = years_before(ask.today, INITIAL_CHILD_AGE)
    picker = _picker(ask, say("label_pick_calendar", ask.lang), lowest, initial)
    if ask.children == 0:
        none = _tap(ask, say("label_no_children", ask.lang), value="none")
        return say("q_children", ask.lang), [none, *_era_buttons(ask), picker, _skip(ask)]
    done = _tap(ask, say("label_children_done", ask.lang), action="done")
    added = ""
    if ask.last_child is not None:
        added = say("child_added", ask.lang, date=readback_date(ask.last_child, ask.lang)) + "\n"
    more = say("q_children_more", ask.lang, count=ask.children)
    return added + more, [done, *_era_buttons(ask), picker]


def _yes_no(name: str) -> Callable[[Ask], tuple[str, list[Action]]]:
    def question(ask: Ask) -> tuple[str, list[Action]]:
        yes = _tap(ask, say("label_yes", ask.lang), value="yes")
        no = _tap(ask, say("label_no", ask.lang), value="no")
        return say(name, ask.lang), [yes, no, _skip(ask)]

    return question


def _interests(ask: Ask) -> tuple[str, list[Action]]:
    # 完了 comes first, so it is on screen without scrolling the buttons sideways.
    done = _tap(ask, say("label_done", ask.lang), action="done")
    shown, more = _paged(ask, fixed=2, more="label_next_topics")
    items: list[Action] = [
        _tap(ask, ("✓" if topic in ask.chosen else "") + ask.labels.get(topic, topic), value=topic)
        for topic in shown
    ]
    chosen = [ask.labels.get(t, t) for t in ask.choices if t in ask.chosen]
    status = (
        say("topics_chosen", ask.lang, topics=join_list(chosen, ask.lang))
        if chosen
        else say("topics_none_chosen", ask.lang)
    )
    # After a tap only the choice so far is said again, not the whole instructions.
    if ask.repeat:
        text = status + "\n" + say("topics_again", ask.lang)
    else:
        text = say("q_interests", ask.lang) + "\n" + status
    return text, [done, *items, *([more] if more else []), _skip(ask)]


_QUESTIONS: dict[str, Callable[[Ask], tuple[str, Sequence[Action]]]] = {
    "birth_date": _birth_date,
    "district": _district,
    "household_size": _household_size,
    "children": _children,
    "pregnant": _yes_no("q_pregnant"),
    "single_parent": _yes_no("q_single_parent"),
    "interests": _interests,
}
