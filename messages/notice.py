"""A program notice (Flex bubble) and the replies to its 申請済み / 対象外・不要 buttons.

Pure builders: the caller passes the program, the lead line, the click-tracking links and
the day the notice goes out (for 「あと N 日」). Nothing here reads a clock or a database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from messages import sdk
from messages.dates import date_with_weekday, long_date
from messages.family import feedback_heading, person, whose_line
from messages.languages import DEFAULT
from messages.postback import encode
from messages.programs import NoticeLinks, Period, localized, missing_note
from messages.style import (
    ACCENT,
    DEADLINE,
    MUTED,
    TEXT,
    CityContact,
    button,
    call_button,
    contact_block,
    deadline,
    text,
    uri_button,
)
from messages.texts import say

if TYPE_CHECKING:  # models are imported on first use (messages.sdk)
    from linebot.v3.messaging import (
        FlexMessage,
        TextMessage,
    )


ALT_TEXT_MAX = 400  # LINE: altText is at most 400 characters; it is the push notification
ANSWERS = ("applied", "not_needed")
FEEDBACK_ACTION = "program"  # postback `a`; `q` is the program id, `v` the answer or "undo"


class NoticeProgram(Protocol):
    """What a notice shows (the configuration's Program fits)."""

    id: str
    name: str
    summary: str
    apply_url: str | None
    contact: str | None
    department: str | None
    period: Period


def notice_object(
    program: NoticeProgram,
    lead: str | None,
    links: NoticeLinks,
    on: dt.date,
    city: CityContact | None = None,
    lang: str = DEFAULT,
    *,
    whose: Sequence[str] = (),
) -> dict:
    """The notice of `program` as sent on `on`, as LINE's JSON message object: one Flex
    bubble, links and feedback buttons. Plain data, so the dispatcher sends it without
    the SDK's models (`build_notice` is the same as a model).

    `whose` names the people it is for when a family profile is among them ("" is the
    account holder, messages.family): its first line and altText say so, and each person
    gets their own 申請しました / 対象外・不要 buttons.

    `city` (municipality.contact) is shown when the program names no contact of its own.
    `lang` is the recipients' language; `lead` is already in it (messages.localized_lead).
    Without a translation of the program the Japanese is shown, after a note saying so.
    """
    closes = program.period.closes
    contact, phone = contact_block(program.contact or program.department, city, lang)
    shown = localized(program, lang)
    period = say(
        "period", lang, opens=long_date(program.period.opens, lang), closes=long_date(closes, lang)
    )
    named = whose_line(whose, lang) if whose else None
    body = [
        *([text(named, size="md", color=ACCENT, weight="bold")] if named else []),
        *([text(lead, size="sm", color=ACCENT, weight="bold")] if lead else []),
        text(shown.name, weight="bold", size="lg", color=TEXT, margin="sm" if lead else "none"),
        *missing_note(shown, lang),
        text(shown.summary, size="sm", margin="md", color=TEXT),
        {"type": "separator", "margin": "md"},
        text(deadline(closes, on, lang), size="md", color=DEADLINE, weight="bold", margin="md"),
        text(period, size="sm", color=MUTED),
        *contact,
        {"type": "separator", "margin": "md"},
        text(say("notice_feedback_hint", lang), size="sm", color=MUTED, margin="md"),
    ]
    buttons = []
    if program.apply_url and links.apply:
        buttons.append(uri_button(say("label_apply", lang), links.apply, "primary"))
    buttons.append(uri_button(say("label_details", lang), links.details, "secondary"))
    if phone:
        buttons.append(call_button(phone, lang))
    for who in whose or ("",):
        if len(whose) > 1:
            buttons.append(
                text(
                    say("notice_feedback_for", lang, who=person(who, lang)),
                    size="sm",
                    color=TEXT,
                    margin="md",
                )
            )
        buttons.append(
            {
                "type": "box",
                "layout": "horizontal",
                "spacing": "sm",
                "contents": [_feedback(program.id, answer, lang, who) for answer in ANSWERS],
            }
        )
    bubble = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
    }
    alt_lead = "\n".join(filter(None, [named, lead])) or None
    alt = notice_alt_text(program, alt_lead, lang)
    return {"type": "flex", "altText": alt, "contents": bubble}


def build_notice(
    program: NoticeProgram,
    lead: str | None,
    links: NoticeLinks,
    on: dt.date,
    city: CityContact | None = None,
    lang: str = DEFAULT,
    *,
    whose: Sequence[str] = (),
) -> FlexMessage:
    """`notice_object` as the SDK's model (validated by it), for replies and previews."""
    notice = notice_object(program, lead, links, on, city, lang, whose=whose)
    return sdk.FlexMessage(
        altText=notice["altText"], contents=sdk.FlexContainer.from_dict(notice["contents"])
    )


def notice_alt_text(program: NoticeProgram, lead: str | None, lang: str = DEFAULT) -> str:
    """The notification line: the lead, the program and its deadline (≤ 400 characters)."""
    closes = date_with_weekday(program.period.closes, lang)
    name = localized(program, lang).name
    if lead:
        text = say("notice_alt_lead", lang, lead=lead, program=name, closes=closes)
    else:
        text = say("notice_alt", lang, program=name, closes=closes)
    return text if len(text) <= ALT_TEXT_MAX else text[: ALT_TEXT_MAX - 1] + "…"


def build_feedback_confirm(
    program_name: str | None, program_id: str, lang: str = DEFAULT, who: str | None = None
) -> TextMessage:
    """申請しました asks once more: a slip of the thumb must not stop a program's notices.

    `who`: the family profile's label the answer is for (None: the account holder)."""
    name = program_name or say("feedback_unknown_program", lang)
    items = [
        sdk.QuickReplyItem(
            action=sdk.PostbackAction(
                label=say(label, lang),
                displayText=say(label, lang),
                data=encode(FEEDBACK_ACTION, q=program_id, v=v, w=who),
            )
        )
        for label, v in (("label_confirm_applied", "applied"), ("label_cancel", "not_yet"))
    ]
    return sdk.TextMessage(
        text=feedback_heading(who, lang) + say("feedback_confirm_applied", lang, program=name),
        quickReply=sdk.QuickReply(items=items),
    )


def build_feedback_thanks(
    program_name: str | None,
    program_id: str,
    answer: str,
    lang: str = DEFAULT,
    who: str | None = None,
) -> TextMessage:
    """The reply to 申請済み / 対象外・不要: no more notices, and how to undo it."""
    name = program_name or say("feedback_unknown_program", lang)
    text = say(f"feedback_{answer}", lang, program=name) + "\n" + say("feedback_undo_hint", lang)
    undo = sdk.PostbackAction(
        label=say("label_undo", lang),
        displayText=say("label_undo", lang),
        data=encode(FEEDBACK_ACTION, q=program_id, v="undo", w=who),
    )
    return sdk.TextMessage(
        text=feedback_heading(who, lang) + text,
        quickReply=sdk.QuickReply(items=[sdk.QuickReplyItem(action=undo)]),
    )


def build_feedback_undone(
    program_name: str | None, lang: str = DEFAULT, who: str | None = None
) -> TextMessage:
    """The reply to 元に戻す: notices about the program will come again."""
    name = program_name or say("feedback_unknown_program", lang)
    return sdk.TextMessage(
        text=feedback_heading(who, lang) + say("feedback_undone", lang, program=name)
    )


def _feedback(program_id: str, answer: str, lang: str, who: str = "") -> dict:
    # 申請しました is confirmed before it stops the notices (build_feedback_confirm).
    value = "confirm" if answer == "applied" else answer
    label = say(f"label_{answer}", lang)
    return button(
        label,
        {
            "type": "postback",
            "displayText": label,
            "data": encode(FEEDBACK_ACTION, q=program_id, v=value, w=who),
        },
        "link",
        flex=1,
    )
