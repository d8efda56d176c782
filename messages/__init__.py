"""Pure message builders: resident-facing text and LINE message models, no I/O.

Names are loaded from their modules on first use (PEP 562): the LINE SDK behind the
models takes over a second to import, and what needs no model (a notice as LINE's JSON,
dates, texts; the dispatcher) must not wait for it. `from messages import build_welcome`
works as before.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name → the module that defines it.
_HOME = {
    "Ask": "messages.questions",
    "CityContact": "messages.style",
    "DEFAULT": "messages.languages",
    "FEEDBACK_ACTION": "messages.notice",
    "LANGUAGES": "messages.languages",
    "LANGUAGE_ACTION": "messages.conversation",
    "MAX_BUBBLES": "messages.programs",
    "MAX_HOUSEHOLD": "messages.questions",
    "MENU_ITEMS": "messages.menu",
    "NAMES": "messages.languages",
    "NoticeLinks": "messages.notice",
    "PARENT_MIN_AGE": "messages.questions",
    "STEPS": "messages.questions",
    "TEXTS": "messages.texts",
    "both_calendars": "messages.dates",
    "build_contact": "messages.conversation",
    "build_delete_confirm": "messages.conversation",
    "build_feedback_confirm": "messages.notice",
    "build_feedback_thanks": "messages.notice",
    "build_feedback_undone": "messages.notice",
    "build_finished": "messages.conversation",
    "build_help": "messages.conversation",
    "build_language_choice": "messages.conversation",
    "build_later": "messages.conversation",
    "build_not_registered": "messages.conversation",
    "build_note": "messages.conversation",
    "build_notice": "messages.notice",
    "build_paused": "messages.conversation",
    "build_privacy": "messages.conversation",
    "build_program_list": "messages.programs",
    "build_question": "messages.questions",
    "build_review": "messages.review",
    "build_rich_menu": "messages.menu",
    "build_start_again": "messages.conversation",
    "build_welcome": "messages.conversation",
    "city_of": "messages.style",
    "date_with_weekday": "messages.dates",
    "decode": "messages.postback",
    "describe": "messages.review",
    "earliest_birth": "messages.questions",
    "earliest_child_birth": "messages.questions",
    "encode": "messages.postback",
    "from_line_profile": "messages.languages",
    "known": "messages.languages",
    "localized": "messages.programs",
    "localized_lead": "messages.programs",
    "long_date": "messages.dates",
    "notice_alt_text": "messages.notice",
    "notice_object": "messages.notice",
    "parse_date": "messages.dates",
    "phone_in": "messages.style",
    "program_bubble": "messages.programs",
    "readback_date": "messages.dates",
    "say": "messages.texts",
    "seireki": "messages.dates",
    "tel_uri": "messages.style",
    "wants_contact": "messages.conversation",
    "wareki": "messages.dates",
    "wareki_with_year": "messages.dates",
    "years_before": "messages.questions",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'messages' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
