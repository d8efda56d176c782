"""Flex building blocks every card shares: readable sizes, AA colours, the resident's font size.

Every text and button sets `scaling: true`, so LINE applies the resident's own font-size
setting (LINE > 設定 > フォントサイズ). Every colour pair meets WCAG 2.1 AA (4.5:1) on the
white bubble; tests/registration/test_readable.py computes the contrast of every colour
the built messages use.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import NamedTuple

from messages.dates import date_with_weekday
from messages.texts import say

WHITE = "#ffffff"
TEXT = "#111111"  # LINE's default text colour, written out so the contrast test sees it
MUTED = "#555555"  # 7.5:1 on white (was #888888, 3.5:1)
LABEL = "#555555"
ACCENT = "#1b5e20"  # dark green: 7.9:1 on white, white on it 7.9:1 (LINE's #17c950: 2.2:1)
DEADLINE = "#b71c1c"  # 6.6:1 on white
LINK = "#0b57d0"  # 6.4:1 on white
SECONDARY_BG = "#e8eaed"  # under #111111 text: 15:1
# Text colour LINE draws on each button style (the button's `color` is the background
# for primary and secondary, the text for link).
BUTTON_TEXT = {"primary": WHITE, "secondary": TEXT}
BUTTON_COLOR = {"primary": ACCENT, "secondary": SECONDARY_BG, "link": LINK}


def text(value: str, **style: object) -> dict:
    """A wrapped text that follows the resident's font size."""
    return {"type": "text", "text": value, "wrap": True, "scaling": True, **style}


def button(label: str, action: dict, style: str = "secondary", **extra: object) -> dict:
    """A button with an explicit AA colour that follows the resident's font size."""
    return {
        "type": "button",
        "style": style,
        "height": "sm",
        "color": BUTTON_COLOR[style],
        "scaling": True,
        "action": {"label": label, **action},
        **extra,
    }


def uri_button(label: str, uri: str, style: str = "secondary") -> dict:
    """A button that opens a link (or, with a tel: URI, calls)."""
    return button(label, {"type": "uri", "uri": uri}, style)


def deadline(closes: dt.date, on: dt.date, lang: str = "ja") -> str:
    """令和9年1月29日（金）まで・あと14日 (or 今日が締切です), in the resident's language."""
    days = (closes - on).days
    when = date_with_weekday(closes, lang)
    if days <= 0:
        return say("deadline_today", lang, closes=when)
    return say("deadline", lang, closes=when, days=days)


class CityContact(NamedTuple):
    """The city's own analog route (municipality.contact): 代表電話 and 窓口."""

    name: str
    phone: str | None = None
    counter: str | None = None


PHONE = re.compile(r"0\d{1,4}-\d{1,4}-\d{3,4}|0\d{9,10}")


def tel_uri(phone: str) -> str:
    """tel: URI of a phone number as written (0237-55-2111 → tel:0237552111)."""
    return "tel:" + "".join(c for c in unicodedata.normalize("NFKC", phone) if c.isdigit())


def phone_in(text: str | None) -> str | None:
    """The first phone number written in a contact text, if any."""
    found = PHONE.search(unicodedata.normalize("NFKC", text or ""))
    return found[0] if found else None


def contact_block(
    contact: str | None, city: CityContact | None, lang: str = "ja"
) -> tuple[list[dict], str | None]:
    """Where else to ask or apply (the analog route), and the phone number to call.

    A program's own contact (or department) comes first; without one, the city's
    代表電話・窓口 (municipality.contact); without that, a general line.
    """
    heading = text(say("contact_heading", lang), size="sm", weight="bold", color=TEXT, margin="md")
    if contact:
        lines = [text(contact, size="sm", color=TEXT)]
        phone = phone_in(contact) or (city.phone if city else None)
    elif city and (city.phone or city.counter):
        lines = [text(line, size="sm", color=TEXT) for line in (city.phone, city.counter) if line]
        phone = city.phone
    else:
        return [text(say("notice_counter_city", lang), size="sm", color=TEXT, margin="md")], None
    return [heading, *lines], phone


def call_button(phone: str, lang: str = "ja") -> dict:
    """A tap-to-call button (tel: URI)."""
    return uri_button(say("label_call", lang, phone=phone)[:20], tel_uri(phone))


def city_of(municipality) -> CityContact:
    """The CityContact of a configured municipality (its optional `contact`)."""
    contact = getattr(municipality, "contact", None)
    return CityContact(municipality.name, contact and contact.phone, contact and contact.counter)
