"""Family profiles (代理受信): naming whose a notice is, and the 家族の登録 cards.

A resident registers the people they look after under a label they choose (「母」). A
notice for such a profile says whose it is in its first line and its altText, with an
honorific for the common labels (「お母さま（母）向けのお知らせです」) and a plain polite
form for any other label (「ご家族（ハナコ）向けのお知らせです」).

`whose` is the list of people one message is for: "" is the account holder, any other
string a family label. Pure builders: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from messages import sdk
from messages.languages import DEFAULT, known
from messages.postback import encode
from messages.style import MUTED, TEXT, button, text
from messages.texts import say

if TYPE_CHECKING:  # models are imported on first use (messages.sdk)
    from linebot.v3.messaging import (
        FlexMessage,
        PostbackAction,
        QuickReply,
        TextMessage,
    )


FAMILY_ACTION = "family"  # postback `a`; `v` what to do, `w` the profile's label
LABEL_MAX = 10  # characters: it appears in notices, buttons and postback data
MAX_PROFILES = 5  # family profiles per LINE account
SUGGESTED_LABELS = ("母", "父", "祖母", "祖父")

# Common labels and the honorific a city uses for them in a letter to the family.
HONORIFICS = {
    "母": "お母さま",
    "お母さん": "お母さま",
    "おかあさん": "お母さま",
    "母親": "お母さま",
    "ママ": "お母さま",
    "父": "お父さま",
    "お父さん": "お父さま",
    "おとうさん": "お父さま",
    "父親": "お父さま",
    "パパ": "お父さま",
    "祖母": "おばあさま",
    "おばあちゃん": "おばあさま",
    "祖父": "おじいさま",
    "おじいちゃん": "おじいさま",
    "義母": "お義母さま",
    "義父": "お義父さま",
    "姉": "お姉さま",
    "兄": "お兄さま",
    "妹": "妹さん",
    "弟": "弟さん",
    "伯母": "おばさま",
    "叔母": "おばさま",
    "伯父": "おじさま",
    "叔父": "おじさま",
    "娘": "娘さん",
    "息子": "息子さん",
    "妻": "奥さま",
    "夫": "ご主人",
}


def clean_label(raw: str | None) -> str | None:
    """A label as typed, normalised (NFKC, trimmed); None if empty, too long or multi-line."""
    label = unicodedata.normalize("NFKC", raw or "").strip().strip("「」『』\"'")
    if not label or len(label) > LABEL_MAX or any(c in label for c in "\r\n\t"):
        return None
    if not all(c.isprintable() for c in label):
        return None
    return label


def person(label: str, lang: str = DEFAULT) -> str:
    """How a notice names one person: ご本人, お母さま（母）, or ご家族（ハナコ）."""
    if not label:
        return say("who_self", lang)
    # The honorifics are Japanese: other languages name the person by the label alone.
    honorific = HONORIFICS.get(label) if known(lang) == DEFAULT else None
    if honorific is None:
        return say("who_family", lang, label=label)
    return say("who_honorific", lang, honorific=honorific, label=label)


def whose_line(whose: Sequence[str], lang: str = DEFAULT) -> str:
    """「お母さま（母）向けのお知らせです。」, or for several 「ご本人とお母さま（母）向け…」."""
    joined = say("who_joiner", lang).join(person(w, lang) for w in whose)
    return say("notice_for", lang, who=joined)


def _buttons(*actions: PostbackAction) -> QuickReply:
    return sdk.QuickReply(items=[sdk.QuickReplyItem(action=a) for a in actions])


def _tap(label: str, value: str, who: str | None = None) -> PostbackAction:
    return sdk.PostbackAction(
        label=label, displayText=label, data=encode(FAMILY_ACTION, v=value, w=who)
    )


def build_family_list(labels: Sequence[tuple[str, bool]], lang: str = DEFAULT) -> FlexMessage:
    """家族の登録: each profile (label, registration finished) with 確認・変更 and 削除,
    and 家族を追加する (while there is room)."""
    rows: list[dict] = []
    for label, finished in labels:
        name = person(label, lang) + ("" if finished else say("family_unfinished", lang))
        # A registration left half-way goes on from its first question.
        value, caption = (
            ("review", "label_family_review") if finished else ("continue", "label_family_continue")
        )
        who = person(label, lang)
        review = {
            "type": "postback",
            "data": encode(FAMILY_ACTION, v=value, w=label),
            "displayText": say("family_review_of", lang, who=who),
        }
        delete = {
            "type": "postback",
            "data": encode(FAMILY_ACTION, v="delete", w=label),
            "displayText": say("family_delete_of", lang, who=who),
        }
        rows += [
            text(name, size="md", color=TEXT, margin="md", weight="bold"),
            {
                "type": "box",
                "layout": "horizontal",
                "spacing": "sm",
                "contents": [
                    button(say(caption, lang), review, "secondary", flex=1),
                    button(say("label_family_delete", lang), delete, "secondary", flex=1),
                ],
            },
            {"type": "separator", "margin": "md"},
        ]
    notes = [say("family_intro", lang) if not labels else say("family_hint", lang)]
    footer = []
    if len(labels) < MAX_PROFILES:
        add = {
            "type": "postback",
            "data": encode(FAMILY_ACTION, v="add"),
            "displayText": say("label_family_add", lang),
        }
        footer.append(button(say("label_family_add", lang), add, "primary"))
    else:
        notes.append(say("family_full", lang, max=MAX_PROFILES))
    body = [
        text(say("family_title", lang), weight="bold", size="lg", color=TEXT),
        *rows,
        *(text(n, size="sm", color=MUTED, margin="md") for n in notes),
    ]
    bubble: dict = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
    }
    if footer:
        bubble["footer"] = {"type": "box", "layout": "vertical", "contents": footer}
    contents = sdk.FlexContainer.from_dict(bubble)
    return sdk.FlexMessage(altText=say("family_title", lang), contents=contents)


def build_family_consent(lang: str = DEFAULT) -> TextMessage:
    """Before the first question about a family member: what is kept, and that they agree."""
    return sdk.TextMessage(
        text=say("family_consent", lang),
        quickReply=_buttons(
            _tap(say("label_family_agree", lang), "agree"), _tap(say("label_keep", lang), "cancel")
        ),
    )


def build_label_question(
    note: str | None = None, lang: str = DEFAULT, **values: object
) -> TextMessage:
    """What to call the family member (「母」): typed, or one of the common labels."""
    body = say("family_ask_label", lang, max=LABEL_MAX)
    if note:
        body = say(note, lang, **values) + "\n\n" + body
    suggested = [
        sdk.PostbackAction(
            label=label, displayText=label, data=encode(FAMILY_ACTION, v="label", w=label)
        )
        for label in SUGGESTED_LABELS
    ]
    return sdk.TextMessage(
        text=body, quickReply=_buttons(*suggested, _tap(say("label_keep", lang), "cancel"))
    )


def build_family_delete_confirm(label: str, lang: str = DEFAULT) -> TextMessage:
    """削除 of one profile: asked once more."""
    return sdk.TextMessage(
        text=say("family_delete_confirm", lang, who=person(label, lang)),
        quickReply=_buttons(
            _tap(say("label_delete", lang), "delete_yes", label),
            _tap(say("label_keep", lang), "list"),
        ),
    )


def about_line(label: str, lang: str = DEFAULT) -> str:
    """The first line of a question about a family member."""
    return say("family_about", lang, who=person(label, lang))


def review_title(label: str, lang: str = DEFAULT) -> str:
    """The title of a family member's review card."""
    return say("family_review_title", lang, who=person(label, lang))


def family_note(name: str, label: str, lang: str = DEFAULT) -> TextMessage:
    """A short reply naming the family member (added, changed, deleted, not found)."""
    return sdk.TextMessage(text=say(name, lang, who=person(label, lang) if label else ""))


def feedback_heading(label: str | None, lang: str = DEFAULT) -> str:
    """The line before a reply to 申請済み / 対象外 tapped for a family member ("" for self)."""
    return say("feedback_for", lang, who=person(label, lang)) + "\n" if label else ""
