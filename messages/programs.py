"""使える制度を見る: the programs open now that a resident is eligible for, as a Flex carousel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from linebot.v3.messaging import FlexContainer, FlexMessage, Message, TextMessage

from messages.dates import wareki
from messages.texts import say

MAX_BUBBLES = 12  # LINE: a carousel holds at most 12 bubbles


class NoticeLinks(NamedTuple):
    """A program's two links, already wrapped for click tracking (GET /r/<token>)."""

    details: str
    apply: str | None = None


class Period(Protocol):
    opens: dt.date
    closes: dt.date


class ProgramLike(Protocol):
    """What a program card shows (the configuration's Program fits)."""

    name: str
    summary: str
    homepage: str
    apply_url: str | None
    contact: str | None
    department: str | None
    period: Period


def build_program_list(
    programs: Sequence[ProgramLike],
    on: dt.date,
    city_homepage: str,
    *,
    skipped_some: bool,
    links: Callable[[ProgramLike], NoticeLinks] | None = None,
) -> list[Message]:
    """The carousel (soonest deadline first), or a kind note when nothing fits.

    `links` gives each program's tracked links (GET /r/<token>); without it the buttons
    open the configured URLs directly.
    """
    if not programs:
        text = say("programs_none")
        if skipped_some:
            text += "\n\n" + say("programs_more_answers")
        return [TextMessage(text=text)]
    ordered = sorted(programs, key=lambda p: (p.period.closes, p.name))
    if len(ordered) <= MAX_BUBBLES:
        bubbles = [program_bubble(p, on, links) for p in ordered]
    else:
        # The last place goes to a bubble that says how many more and links the city HP.
        shown = ordered[: MAX_BUBBLES - 1]
        bubbles = [program_bubble(p, on, links) for p in shown]
        bubbles.append(_more_bubble(len(ordered) - len(shown), city_homepage))
    carousel = {"type": "carousel", "contents": bubbles}
    alt = say("programs_alt", count=len(ordered))
    return [
        TextMessage(text=say("programs_intro", count=len(ordered))),
        FlexMessage(altText=alt, contents=FlexContainer.from_dict(carousel)),
    ]


def program_bubble(
    program: ProgramLike, on: dt.date, links: Callable[[ProgramLike], NoticeLinks] | None = None
) -> dict:
    """One program: name, summary, period with deadline, contact, and its links."""
    closes = program.period.closes
    days = (closes - on).days
    deadline = (say("deadline_today", closes=wareki(closes)) if days <= 0
                else say("deadline", closes=wareki(closes), days=days))  # fmt: skip
    period = say("period", opens=wareki(program.period.opens), closes=wareki(closes))
    contact = program.contact or program.department
    body = [
        _text(program.name, weight="bold", size="md"),
        _text(program.summary, size="sm", margin="md"),
        {"type": "separator", "margin": "md"},
        _text(period, size="xs", color="#666666", margin="md"),
        _text(deadline, size="sm", color="#c62828", weight="bold"),
        *([_text(say("contact", contact=contact), size="xs", color="#666666", margin="sm")]
          if contact else []),
    ]  # fmt: skip
    urls = links(program) if links else NoticeLinks(program.homepage, program.apply_url)
    buttons = [_link(say("label_details"), urls.details, "secondary")]
    if program.apply_url and urls.apply:
        buttons.append(_link(say("label_apply"), urls.apply, "primary"))
    return _bubble(body, buttons)


def _more_bubble(count: int, city_homepage: str) -> dict:
    body = [_text(say("programs_more", count=count), weight="bold", size="md"),
            _text(say("programs_more_body"), size="sm", margin="md")]  # fmt: skip
    return _bubble(body, [_link(say("label_city_homepage"), city_homepage, "primary")])


def _bubble(body: list[dict], buttons: list[dict]) -> dict:
    return {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
    }


def _text(text: str, **style: str) -> dict:
    return {"type": "text", "text": text, "wrap": True, **style}


def _link(label: str, uri: str, style: str) -> dict:
    return {"type": "button", "style": style, "height": "sm",
            "action": {"type": "uri", "label": label, "uri": uri}}  # fmt: skip
