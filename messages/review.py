"""The review of a resident's answers: every answer in their language, a change button on each.

The last row is the language the resident reads Todoku in, with a button to choose another
(the menu's way to the choice of language).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from linebot.v3.messaging import FlexContainer, FlexMessage

from messages.conversation import LANGUAGE_ACTION
from messages.dates import birth_date_text
from messages.family import FAMILY_ACTION, review_title
from messages.languages import DEFAULT, NAMES, join_list, known
from messages.postback import encode
from messages.questions import MAX_HOUSEHOLD
from messages.style import LABEL, MUTED, TEXT, button, text
from messages.texts import say
from segments import Profile


def build_review(
    profile: Profile,
    steps: Sequence[str],
    *,
    paused: bool = False,
    lang: str = DEFAULT,
    topic_names: Mapping[str, str] | None = None,
    who: str | None = None,
    family: bool = False,
) -> FlexMessage:
    """A Flex bubble listing the answers to `steps`, each with a button to change it.

    `topic_names`: how the chosen topics are named in `lang` (as stored when left out).
    `who`: the answers are a family profile's (its label: the title names them, each change
    button carries it, and there is no language row: the account's language is theirs).
    `family`: add the 家族の登録 button (the account's own review).
    """
    rows: list[dict] = []
    for step in steps:
        label = say("field_" + step, lang)
        shown = describe(step, profile, lang, topic_names)
        rows += [
            _row(label, shown, encode("edit", q=step, w=who), lang),
            {"type": "separator", "margin": "md"},
        ]
    if who is None:
        rows += [
            _row(say("field_language", lang), NAMES[known(lang)], encode(LANGUAGE_ACTION), lang),
            {"type": "separator", "margin": "md"},
        ]
    notes = [say("review_hint", lang)] + ([say("paused_note", lang)] if paused else [])
    title = say("review_title", lang) if who is None else review_title(who, lang)
    body = [
        text(title, weight="bold", size="lg", color=TEXT),
        *rows,
        *(text(n, size="sm", color=MUTED, margin="md") for n in notes),
    ]
    bubble: dict = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
    }
    if family:
        tap = {
            "type": "postback",
            "data": encode(FAMILY_ACTION, v="list"),
            "displayText": say("label_family", lang),
        }
        footer = [button(say("label_family", lang), tap, "secondary")]
        bubble["footer"] = {"type": "box", "layout": "vertical", "contents": footer}
    alt = say("review_alt", lang) if who is None else title
    return FlexMessage(altText=alt, contents=FlexContainer.from_dict(bubble))


def describe(
    step: str, profile: Profile, lang: str = DEFAULT, topic_names: Mapping[str, str] | None = None
) -> str:
    """The answer to `step` in the resident's language (答えていません when skipped)."""
    if step == "interests":
        names = sorted((topic_names or {}).get(t, t) for t in profile.interests)
        return join_list(names, lang) or say("none_chosen", lang)
    return _DESCRIBE[step](profile, lang)


def _row(label: str, value: str, data: str, lang: str) -> dict:
    change = {
        "type": "postback",
        "data": data,
        "displayText": say("change_field", lang, field=label),
    }
    return {
        "type": "box",
        "layout": "horizontal",
        "margin": "md",
        "spacing": "sm",
        "contents": [
            {
                "type": "box",
                "layout": "vertical",
                "flex": 5,
                "contents": [
                    text(label, size="sm", color=LABEL),
                    text(value, size="md", color=TEXT),
                ],
            },
            button(say("label_change", lang), change, "secondary", flex=2, gravity="center"),
        ],
    }


def _or_skipped(value: object, lang: str, show: Callable[[object], str]) -> str:
    return say("not_answered", lang) if value is None else show(value)


def _children(p: Profile, lang: str) -> str:
    if p.children is None:
        return say("not_answered", lang)
    if not p.children:
        return say("children_none", lang)
    return "\n".join(
        [
            say("children_count", lang, count=len(p.children)),
            *(birth_date_text(b, lang) for b in p.children),
        ]
    )


def _persons(n: object, lang: str) -> str:
    return say("persons_or_more" if n >= MAX_HOUSEHOLD else "persons", lang, n=n)


def _yes_no(value: object, lang: str) -> str:
    return say("yes", lang) if value else say("no", lang)


_DESCRIBE: dict[str, Callable[[Profile, str], str]] = {
    "birth_date": lambda p, lang: _or_skipped(
        p.birth_date, lang, lambda d: birth_date_text(d, lang)
    ),
    "district": lambda p, lang: _or_skipped(p.district, lang, str),
    "household_size": lambda p, lang: _or_skipped(
        p.household_size, lang, lambda n: _persons(n, lang)
    ),
    "children": _children,
    "pregnant": lambda p, lang: _or_skipped(p.pregnant, lang, lambda v: _yes_no(v, lang)),
    "single_parent": lambda p, lang: _or_skipped(p.single_parent, lang, lambda v: _yes_no(v, lang)),
}
