"""A program notice (Flex bubble) and the replies to its 申請済み / 対象外・不要 buttons.

Pure builders: the caller passes the program, the lead line, the click-tracking links and
the day the notice goes out (for 「あと N 日」). Nothing here reads a clock or a database.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from linebot.v3.messaging import (
    FlexContainer,
    FlexMessage,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from messages.dates import wareki
from messages.postback import encode
from messages.programs import NoticeLinks, Period
from messages.texts import say

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


def build_notice(
    program: NoticeProgram, lead: str | None, links: NoticeLinks, on: dt.date
) -> FlexMessage:
    """The notice of `program` as sent on `on`: one bubble, links and feedback buttons."""
    closes = program.period.closes
    body = [
        *([_text(lead, size="sm", color="#1b5e20", weight="bold")] if lead else []),
        _text(program.name, weight="bold", size="lg", margin="sm" if lead else "none"),
        _text(program.summary, size="sm", margin="md"),
        {"type": "separator", "margin": "md"},
        _text(
            say("period", opens=wareki(program.period.opens), closes=wareki(closes)),
            size="xs",
            color="#666666",
            margin="md",
        ),
        _text(_deadline(closes, on), size="sm", color="#c62828", weight="bold"),
        _text(_counter(program), size="xs", color="#666666", margin="md"),
        _text(say("notice_feedback_hint"), size="xxs", color="#888888", margin="md"),
    ]
    buttons = [_uri(say("label_details"), links.details, "secondary")]
    if program.apply_url and links.apply:
        buttons.append(_uri(say("label_apply"), links.apply, "primary"))
    buttons.append(
        {
            "type": "box",
            "layout": "horizontal",
            "spacing": "sm",
            "contents": [_feedback(program.id, answer) for answer in ANSWERS],
        }
    )
    bubble = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
    }
    return FlexMessage(
        altText=notice_alt_text(program, lead), contents=FlexContainer.from_dict(bubble)
    )


def notice_alt_text(program: NoticeProgram, lead: str | None) -> str:
    """The notification line: the lead, the program and its deadline (≤ 400 characters)."""
    closes = wareki(program.period.closes)
    if lead:
        text = say("notice_alt_lead", lead=lead, program=program.name, closes=closes)
    else:
        text = say("notice_alt", program=program.name, closes=closes)
    return text if len(text) <= ALT_TEXT_MAX else text[: ALT_TEXT_MAX - 1] + "…"


def build_feedback_thanks(program_name: str | None, program_id: str, answer: str) -> TextMessage:
    """The reply to 申請済み / 対象外・不要: no more notices, and how to undo it."""
    name = program_name or say("feedback_unknown_program")
    text = say(f"feedback_{answer}", program=name) + "\n" + say("feedback_undo_hint")
    undo = PostbackAction(
        label=say("label_undo"),
        displayText=say("label_undo"),
        data=encode(FEEDBACK_ACTION, q=program_id, v="undo"),
    )
    return TextMessage(text=text, quickReply=QuickReply(items=[QuickReplyItem(action=undo)]))


def build_feedback_undone(program_name: str | None) -> TextMessage:
    """The reply to 元に戻す: notices about the program will come again."""
    return TextMessage(
        text=say("feedback_undone", program=program_name or say("feedback_unknown_program"))
    )


def _deadline(closes: dt.date, on: dt.date) -> str:
    days = (closes - on).days
    if days <= 0:
        return say("deadline_today", closes=wareki(closes))
    return say("deadline", closes=wareki(closes), days=days)


def _counter(program: NoticeProgram) -> str:
    # The analog route is always shown: nobody is forced onto the online form (config.md).
    contact = program.contact or program.department
    return say("notice_counter", contact=contact) if contact else say("notice_counter_city")


def _feedback(program_id: str, answer: str) -> dict:
    label = say(f"label_{answer}")
    return {
        "type": "button",
        "style": "link",
        "height": "sm",
        "flex": 1,
        "action": {
            "type": "postback",
            "label": label,
            "displayText": label,
            "data": encode(FEEDBACK_ACTION, q=program_id, v=answer),
        },
    }


def _text(text: str, **style: str) -> dict:
    return {"type": "text", "text": text, "wrap": True, **style}


def _uri(label: str, uri: str, style: str) -> dict:
    return {
        "type": "button",
        "style": style,
        "height": "sm",
        "action": {"type": "uri", "label": label, "uri": uri},
    }
