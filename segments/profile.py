"""What the segment engine knows about one resident."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# The registration questions, one per answer below, in the order they are asked. The
# configuration (questions.*.ask_if) and the dialog (messages.questions.STEPS) both use it.
QUESTIONS = (
    "birth_date",
    "district",
    "household_size",
    "children",
    "pregnant",
    "single_parent",
    "interests",
)


@dataclass(frozen=True, slots=True)
class Profile:
    """A resident's answers; None means the question was skipped (see config.md)."""

    birth_date: dt.date | None = None
    district: str | None = None
    household_size: int | None = None
    pregnant: bool | None = None
    single_parent: bool | None = None
    # None = the children question was skipped; () = answered "no children".
    children: tuple[dt.date, ...] | None = None
    # Interests are opt-ins, so there is nothing to skip: empty = none chosen.
    interests: frozenset[str] = field(default_factory=frozenset)
