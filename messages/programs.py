"""使える制度を見る: the programs open now that a resident is eligible for, as a Flex carousel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from messages import sdk
from messages.dates import long_date
from messages.languages import DEFAULT, join_list
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

if TYPE_CHECKING:  # models are imported on first use (messages.sdk)
    from linebot.v3.messaging import Message


MAX_BUBBLES = 12  # LINE: a carousel holds at most 12 bubbles


class NoticeLinks(NamedTuple):
    """A program's two links, already wrapped for click tracking (GET /r/<token>)."""

    details: str
    apply: str | None = None


class Period(Protocol):
    opens: dt.date
    closes: dt.date


class Localized(NamedTuple):
    """A program's name and summary as a resident of one language reads them."""

    name: str
    summary: str
    missing: bool  # no (complete) translation: the Japanese is shown, with a note saying so


def localized(program, lang: str = DEFAULT) -> Localized:
    """The program's name and summary in `lang` (programs.yaml `translations:`), else Japanese.

    A translation may give only the name or only the summary: what it gives is used, and the
    note that the rest is in Japanese is shown all the same.
    """
    if lang == DEFAULT:
        return Localized(program.name, program.summary, False)
    found = (getattr(program, "translations", None) or {}).get(lang)
    name = getattr(found, "name", None)
    summary = getattr(found, "summary", None)
    return Localized(name or program.name, summary or program.summary, not (name and summary))


def localized_lead(campaign_lead: str | None, translations, lang: str = DEFAULT) -> str | None:
    """A campaign's lead line in `lang` (campaigns.yaml `translations:`), else as written."""
    if campaign_lead is None or lang == DEFAULT:
        return campaign_lead
    found = (translations or {}).get(lang)
    return getattr(found, "lead", None) or campaign_lead


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
    lang: str = DEFAULT,
    topic_names: Mapping[str, str] | None = None,
) -> list[Message]:
    """The carousel, or a kind note when nothing fits.

    Programs of the resident's chosen `topics` come first, then by the soonest deadline.
    `guest`: the resident has not registered (あとで); only programs for everybody are
    passed, and the intro invites them to register. `links` gives each program's tracked
    links (GET /r/<token>); without it the buttons open the configured URLs directly.
    `city` is the city's own phone and counter, shown where a program names no contact.
    """
    if not programs:
        text = say("programs_guest_none" if guest else "programs_none", lang)
        if skipped_some and not guest:
            text += "\n\n" + say("programs_more_answers", lang)
        return [sdk.TextMessage(text=text)]
    chosen = set(topics)
    ordered = sorted(
        programs, key=lambda p: (getattr(p, "topic", None) not in chosen, p.period.closes, p.name)
    )
    if len(ordered) <= MAX_BUBBLES:
        bubbles = [program_bubble(p, on, links, city, lang) for p in ordered]
    else:
        # The last place goes to a bubble that says how many more and links the city HP.
        shown = ordered[: MAX_BUBBLES - 1]
        bubbles = [program_bubble(p, on, links, city, lang) for p in shown]
        bubbles.append(_more_bubble(len(ordered) - len(shown), city_homepage, lang))
    carousel = {"type": "carousel", "contents": bubbles}
    alt = say("programs_alt", lang, count=len(ordered))
    first_topics = [t for t in topics if any(getattr(p, "topic", None) == t for p in ordered)]
    if guest:
        intro = say("programs_guest_intro", lang, count=len(ordered))
    elif first_topics:
        intro = say(
            "programs_intro_topics",
            lang,
            count=len(ordered),
            topics=join_list([(topic_names or {}).get(t, t) for t in first_topics], lang),
        )
    else:
        intro = say("programs_intro", lang, count=len(ordered))
    return [
        sdk.TextMessage(text=intro),
        sdk.FlexMessage(altText=alt, contents=sdk.FlexContainer.from_dict(carousel)),
    ]


def program_bubble(
    program: ProgramLike,
    on: dt.date,
    links: Callable[[ProgramLike], NoticeLinks] | None = None,
    city: CityContact | None = None,
    lang: str = DEFAULT,
) -> dict:
    """One program: name, summary, deadline with weekday, period, contact, and its links."""
    closes = program.period.closes
    period = say(
        "period", lang, opens=long_date(program.period.opens, lang), closes=long_date(closes, lang)
    )
    contact, phone = contact_block(program.contact or program.department, city, lang)
    shown = localized(program, lang)
    body = [
        text(shown.name, weight="bold", size="md", color=TEXT),
        *missing_note(shown, lang),
        text(shown.summary, size="sm", margin="md", color=TEXT),
        {"type": "separator", "margin": "md"},
        text(deadline(closes, on, lang), size="md", color=DEADLINE, weight="bold", margin="md"),
        text(period, size="sm", color=MUTED),
        *contact,
    ]
    urls = links(program) if links else NoticeLinks(program.homepage, program.apply_url)
    buttons = []
    if program.apply_url and urls.apply:
        buttons.append(uri_button(say("label_apply", lang), urls.apply, "primary"))
    buttons.append(uri_button(say("label_details", lang), urls.details, "secondary"))
    if phone:
        buttons.append(call_button(phone, lang))
    return _bubble(body, buttons)


def missing_note(shown: Localized, lang: str) -> list[dict]:
    """「This program has no English description yet…」 where the Japanese is shown."""
    if not shown.missing:
        return []
    return [text(say("translation_missing", lang), size="sm", color=MUTED, margin="sm")]


def _more_bubble(count: int, city_homepage: str, lang: str) -> dict:
    body = [
        text(say("programs_more", lang, count=count), weight="bold", size="md", color=TEXT),
        text(say("programs_more_body", lang), size="sm", margin="md", color=TEXT),
    ]
    return _bubble(body, [uri_button(say("label_city_homepage", lang), city_homepage, "primary")])


def _bubble(body: list[dict], buttons: list[dict]) -> dict:
    return {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
    }
