"""使える制度を見る: the programs open now that a resident is eligible for, as a Flex carousel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from linebot.v3.messaging import FlexContainer, FlexMessage, Message, TextMessage

from messages.dates import wareki
from messages.style import (
    DEADLINE,
    MUTED,
    TEXT,
    CityContact,
    call_button,
    contact_block,
    deadline,
    text,
    uri_button,
)
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
    city: CityContact | None = None,
    topics: Sequence[str] = (),
    guest: bool = False,
) -> list[Message]:
    """The carousel, or a kind note when nothing fits.

    Programs of the resident's chosen `topics` come first, then by the soonest deadline.
    `guest`: the resident has not registered (あとで); only programs for everybody are
    passed, and the intro invites them to register. `links` gives each program's tracked
    links (GET /r/<token>); without it the buttons open the configured URLs directly.
    `city` is the city's own phone and counter, shown where a program names no contact.
    """
    if not programs:
        text = say("programs_guest_none" if guest else "programs_none")
        if skipped_some and not guest:
            text += "\n\n" + say("programs_more_answers")
        return [TextMessage(text=text)]
    chosen = set(topics)
    ordered = sorted(programs, key=lambda p: (getattr(p, "topic", None) not in chosen,
                                              p.period.closes, p.name))  # fmt: skip
    if len(ordered) <= MAX_BUBBLES:
        bubbles = [program_bubble(p, on, links, city) for p in ordered]
    else:
        # The last place goes to a bubble that says how many more and links the city HP.
        shown = ordered[: MAX_BUBBLES - 1]
        bubbles = [program_bubble(p, on, links, city) for p in shown]
        bubbles.append(_more_bubble(len(ordered) - len(shown), city_homepage))
    carousel = {"type": "carousel", "contents": bubbles}
    alt = say("programs_alt", count=len(ordered))
    first_topics = [t for t in topics if any(getattr(p, "topic", None) == t for p in ordered)]
    if guest:
        intro = say("programs_guest_intro", count=len(ordered))
    elif first_topics:
        intro = say("programs_intro_topics", count=len(ordered), topics="、".join(first_topics))
    else:
        intro = say("programs_intro", count=len(ordered))
    return [
        TextMessage(text=intro),
        FlexMessage(altText=alt, contents=FlexContainer.from_dict(carousel)),
    ]


def program_bubble(
    program: ProgramLike,
    on: dt.date,
    links: Callable[[ProgramLike], NoticeLinks] | None = None,
    city: CityContact | None = None,
) -> dict:
    """One program: name, summary, deadline with weekday, period, contact, and its links."""
    closes = program.period.closes
    period = say("period", opens=wareki(program.period.opens), closes=wareki(closes))
    contact, phone = contact_block(program.contact or program.department, city)
    body = [
        text(program.name, weight="bold", size="md", color=TEXT),
        text(program.summary, size="sm", margin="md", color=TEXT),
        {"type": "separator", "margin": "md"},
        text(deadline(closes, on), size="md", color=DEADLINE, weight="bold", margin="md"),
        text(period, size="sm", color=MUTED),
        *contact,
    ]
    urls = links(program) if links else NoticeLinks(program.homepage, program.apply_url)
    buttons = []
    if program.apply_url and urls.apply:
        buttons.append(uri_button(say("label_apply"), urls.apply, "primary"))
    buttons.append(uri_button(say("label_details"), urls.details, "secondary"))
    if phone:
        buttons.append(call_button(phone))
    return _bubble(body, buttons)


def _more_bubble(count: int, city_homepage: str) -> dict:
    body = [text(say("programs_more", count=count), weight="bold", size="md", color=TEXT),
            text(say("programs_more_body"), size="sm", margin="md", color=TEXT)]  # fmt: skip
    return _bubble(body, [uri_button(say("label_city_homepage"), city_homepage, "primary")])


def _bubble(body: list[dict], buttons: list[dict]) -> dict:
    return {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
    }
