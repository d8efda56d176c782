"""The review of a resident's answers: every answer in plain Japanese, a 変更 button on each."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from linebot.v3.messaging import FlexContainer, FlexMessage

from messages.dates import both_calendars
from messages.postback import encode
from messages.questions import MAX_HOUSEHOLD
from messages.style import LABEL, MUTED, TEXT, button, text
from messages.texts import say
from segments import Profile


def build_review(profile: Profile, steps: Sequence[str], *, paused: bool = False) -> FlexMessage:
    """A Flex bubble listing the answers to `steps`, each with a button to change it."""
    rows: list[dict] = []
    for step in steps:
        rows += [_row(step, describe(step, profile)), {"type": "separator", "margin": "md"}]
    notes = [say("review_hint")] + ([say("paused_note")] if paused else [])
    body = [
        text(say("review_title"), weight="bold", size="lg", color=TEXT),
        *rows,
        *(text(n, size="sm", color=MUTED, margin="md") for n in notes),
    ]
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": body}}
    return FlexMessage(altText=say("review_alt"), contents=FlexContainer.from_dict(bubble))


def describe(step: str, profile: Profile) -> str:
    """The answer to `step` in plain Japanese (答えていません when skipped)."""
    return _DESCRIBE[step](profile)


def _row(step: str, value: str) -> dict:
    label = say("field_" + step)
    change = {"type": "postback", "data": encode("edit", q=step),
              "displayText": f"{label}を{say('label_change')}"}  # fmt: skip
    return {
        "type": "box", "layout": "horizontal", "margin": "md", "spacing": "sm",
        "contents": [
            {"type": "box", "layout": "vertical", "flex": 5, "contents": [
                text(label, size="sm", color=LABEL),
                text(value, size="md", color=TEXT),
            ]},
            button(say("label_change"), change, "secondary", flex=2, gravity="center"),
        ],
    }  # fmt: skip


def _or_skipped(value: object, show: Callable[[object], str]) -> str:
    return say("not_answered") if value is None else show(value)


def _children(p: Profile) -> str:
    if p.children is None:
        return say("not_answered")
    if not p.children:
        return say("children_none")
    return "\n".join([say("children_count", count=len(p.children)),
                      *(both_calendars(b) for b in p.children)])  # fmt: skip


def _persons(n: object) -> str:
    return say("persons_or_more" if n >= MAX_HOUSEHOLD else "persons", n=n)


def _yes_no(value: object) -> str:
    return say("yes") if value else say("no")


_DESCRIBE: dict[str, Callable[[Profile], str]] = {
    "birth_date": lambda p: _or_skipped(p.birth_date, both_calendars),
    "district": lambda p: _or_skipped(p.district, str),
    "household_size": lambda p: _or_skipped(p.household_size, _persons),
    "children": _children,
    "pregnant": lambda p: _or_skipped(p.pregnant, _yes_no),
    "single_parent": lambda p: _or_skipped(p.single_parent, _yes_no),
    "interests": lambda p: "、".join(sorted(p.interests)) or say("none_chosen"),
}
