"""The registration questions: text with quick replies and LINE's date picker, no typing.

`build_question(ask)` dispatches by the question's step name. Every question but consent
offers 答えない; each button's postback carries the step token `ask.token`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from linebot.v3.messaging import (
    Action,
    DatetimePickerAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from messages.postback import encode
from messages.texts import say

STEPS = (
    "birth_date", "district", "household_size", "children", "pregnant", "single_parent",
    "interests",
)  # fmt: skip
MAX_ITEMS = 13  # LINE: at most 13 quick reply buttons
MAX_LABEL = 20  # LINE: quick reply labels are at most 20 characters
OLDEST_YEARS = 120  # a birth date more than 120 years ago is a mistake
PARENT_MIN_AGE = 12  # a child born before the parent was 12 is a mistake
MAX_HOUSEHOLD = 10  # "10人以上" is stored as 10


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


def build_question(ask: Ask) -> TextMessage:
    """The question `ask.step`, with its progress hint and answer buttons."""
    text, items = _QUESTIONS[ask.step](ask)
    if ask.progress:
        text = say("progress", n=ask.progress[0], total=ask.progress[1]) + text
    if ask.note:
        text = say(ask.note) + "\n\n" + text
    return TextMessage(
        text=text, quickReply=QuickReply(items=[QuickReplyItem(action=a) for a in items])
    )


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day `years` earlier (28 February for 29 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def earliest_birth(today: dt.date) -> dt.date:
    """The earliest birth date the bot accepts (120 years ago; the picker's floor is 1900)."""
    return max(years_before(today, OLDEST_YEARS), dt.date(1900, 1, 1))


def earliest_child_birth(today: dt.date, parent_birth: dt.date | None) -> dt.date:
    """The earliest birth date of a child: when the parent was 12, else 120 years ago."""
    if parent_birth is None:
        return earliest_birth(today)
    at_twelve = years_before(parent_birth, -PARENT_MIN_AGE)
    return min(max(at_twelve, earliest_birth(today)), today)


def _tap(
    ask: Ask, label: str, action: str = "ans", value: str | None = None, echo: str | None = None
) -> PostbackAction:
    return PostbackAction(label=_fit(label), data=encode(action, q=ask.step, v=value,
                                                         t=ask.token),
                          displayText=echo or label)  # fmt: skip


def _skip(ask: Ask) -> PostbackAction:
    return _tap(ask, say("label_skip"), action="skip")


def _picker(ask: Ask, label: str, lowest: dt.date, initial: dt.date) -> DatetimePickerAction:
    # No time zones in the picker (LINE): the day is read as a local (Asia/Tokyo) date.
    initial = min(max(initial, lowest), ask.today)
    return DatetimePickerAction(label=label, data=encode("ans", q=ask.step, t=ask.token),
                                mode="date", initial=initial.isoformat(),
                                min=lowest.isoformat(), max=ask.today.isoformat())  # fmt: skip


def _fit(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _birth_date(ask: Ask) -> tuple[str, list[Action]]:
    initial = years_before(ask.today, 50)
    picker = _picker(ask, say("label_pick_birth"), earliest_birth(ask.today), initial)
    return say("q_birth_date"), [picker, _skip(ask)]


def _paged(ask: Ask, fixed: int, more: str) -> tuple[list[str], Action | None]:
    """The choices on this page, and a "more" button when they do not fit in one message."""
    room = MAX_ITEMS - fixed
    if len(ask.choices) <= room:
        return list(ask.choices), None
    size = room - 1
    pages = -(-len(ask.choices) // size)
    page = ask.page % pages
    return list(ask.choices[page * size : (page + 1) * size]), _tap(ask, say(more), "page")


def _district(ask: Ask) -> tuple[str, list[Action]]:
    shown, more = _paged(ask, fixed=1, more="label_next_page")
    items: list[Action] = [_tap(ask, name, value=name) for name in shown]
    return say("q_district"), [*items, *([more] if more else []), _skip(ask)]


def _household_size(ask: Ask) -> tuple[str, list[Action]]:
    items: list[Action] = [_tap(ask, say("persons", n=n), value=str(n))
                           for n in range(1, MAX_HOUSEHOLD)]  # fmt: skip
    items.append(_tap(ask, say("persons_or_more", n=MAX_HOUSEHOLD), value=str(MAX_HOUSEHOLD)))
    return say("q_household_size"), [*items, _skip(ask)]


def _children(ask: Ask) -> tuple[str, list[Action]]:
    lowest = earliest_child_birth(ask.today, ask.parent_birth)
    initial = years_before(ask.today, 3)
    if ask.children == 0:
        picker = _picker(ask, say("label_pick_child"), lowest, initial)
        none = _tap(ask, say("label_no_children"), value="none")
        return say("q_children"), [picker, none, _skip(ask)]
    picker = _picker(ask, say("label_add_child"), lowest, initial)
    done = _tap(ask, say("label_children_done"), action="done")
    return say("q_children_more", count=ask.children), [picker, done]


def _yes_no(name: str) -> Callable[[Ask], tuple[str, list[Action]]]:
    def question(ask: Ask) -> tuple[str, list[Action]]:
        yes = _tap(ask, say("label_yes"), value="yes")
        no = _tap(ask, say("label_no"), value="no")
        return say(name), [yes, no, _skip(ask)]

    return question


def _interests(ask: Ask) -> tuple[str, list[Action]]:
    shown, more = _paged(ask, fixed=2, more="label_next_topics")
    items: list[Action] = [
        _tap(ask, ("✓" if topic in ask.chosen else "") + topic, value=topic) for topic in shown
    ]
    chosen = [t for t in ask.choices if t in ask.chosen]
    status = say("topics_chosen", topics="、".join(chosen)) if chosen else say("topics_none_chosen")
    done = _tap(ask, say("label_done"), action="done")
    return say("q_interests") + "\n" + status, [*items, *([more] if more else []), done,
                                                 _skip(ask)]  # fmt: skip


_QUESTIONS: dict[str, Callable[[Ask], tuple[str, Sequence[Action]]]] = {
    "birth_date": _birth_date,
    "district": _district,
    "household_size": _household_size,
    "children": _children,
    "pregnant": _yes_no("q_pregnant"),
    "single_parent": _yes_no("q_single_parent"),
    "interests": _interests,
}
