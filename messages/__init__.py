"""Pure message builders: resident-facing text and LINE message models, no I/O."""

from messages.conversation import (
    build_contact,
    build_delete_confirm,
    build_finished,
    build_help,
    build_later,
    build_not_registered,
    build_note,
    build_paused,
    build_start_again,
    build_welcome,
    wants_contact,
)
from messages.dates import both_calendars, parse_date, seireki, wareki, wareki_with_year
from messages.menu import MENU_ITEMS, build_rich_menu
from messages.notice import (
    FEEDBACK_ACTION,
    NoticeLinks,
    build_feedback_confirm,
    build_feedback_thanks,
    build_feedback_undone,
    build_notice,
    notice_alt_text,
)
from messages.postback import decode, encode
from messages.programs import MAX_BUBBLES, build_program_list, program_bubble
from messages.questions import (
    MAX_HOUSEHOLD,
    PARENT_MIN_AGE,
    STEPS,
    Ask,
    build_question,
    earliest_birth,
    earliest_child_birth,
    years_before,
)
from messages.review import build_review, describe
from messages.style import CityContact, city_of, phone_in, tel_uri
from messages.texts import TEXTS, say

__all__ = [
    "FEEDBACK_ACTION",
    "MAX_BUBBLES",
    "MAX_HOUSEHOLD",
    "MENU_ITEMS",
    "PARENT_MIN_AGE",
    "STEPS",
    "TEXTS",
    "Ask",
    "CityContact",
    "NoticeLinks",
    "both_calendars",
    "build_contact",
    "build_delete_confirm",
    "build_feedback_confirm",
    "build_feedback_thanks",
    "build_feedback_undone",
    "build_finished",
    "build_help",
    "build_later",
    "build_not_registered",
    "build_note",
    "build_notice",
    "build_paused",
    "build_program_list",
    "build_question",
    "build_review",
    "build_rich_menu",
    "build_start_again",
    "build_welcome",
    "city_of",
    "decode",
    "describe",
    "earliest_birth",
    "earliest_child_birth",
    "encode",
    "notice_alt_text",
    "parse_date",
    "phone_in",
    "program_bubble",
    "say",
    "seireki",
    "tel_uri",
    "wants_contact",
    "wareki",
    "wareki_with_year",
    "years_before",
]
