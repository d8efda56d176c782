"""The registration dialog's state: a typed pydantic model, stored as JSON on the account.

`Resident.dialog` holds it as a plain dict, so any web process can continue a conversation
another one started and a restart loses nothing. It is validated whenever it is loaded
(`load`): unknown keys (older versions) are ignored, and a state that cannot be read at all
becomes "no question open" with its step token kept, never an error for the resident.
It is written back whole (`save`): a JSON column does not notice in-place changes.

    {"mode": "register" | "edit" | "label", "step": "district", "t": 7, "queue": [...],
     "known": ["birth_date"], "n": 2, "total": 5, "exact": false, "who": 41,
     "kids": ["2019-05-10"], "last": "2019-05-10", "sel": ["子育て"], "page": 0,
     "dp": {"era": "昭和", "dec": 21, "y": 1946, "m": 5}, "again": true}

`who` is the family profile (its resident id) the questions are about; absent when they are
about the account holder. Mode "label" asks what to call a new family member (step
"label", a typed answer).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Mode = Literal["register", "edit", "label"]
LABEL_STEP = "label"  # the open "question" while a new family member's label is asked


class DatePart(BaseModel):
    """A date being tapped in parts: 元号 → 年の範囲 → 年 → 月 (then the day)."""

    model_config = ConfigDict(extra="ignore")

    era: str | None = None
    dec: int | None = None
    y: int | None = None
    m: int | None = None


class DialogState(BaseModel):
    """Which question is open, for whom, and what was tapped so far (see module docstring)."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    t: int = 0  # the step token: every question sent gets a new one (stale taps re-ask)
    mode: Mode | None = None
    step: str | None = None
    who: int | None = None
    queue: list[str] = Field(default_factory=list)
    known: list[str] = Field(default_factory=list)
    n: int = 0
    total: int | None = None
    exact: bool = False
    kids: list[str] = Field(default_factory=list)
    last: str | None = None
    sel: list[str] = Field(default_factory=list)
    page: int = 0
    dp: DatePart = Field(default_factory=DatePart)
    again: bool = False
    said: str | None = None  # a date to read back after the answer (not kept)

    @property
    def open(self) -> bool:
        """True while a question is open."""
        return bool(self.step)

    def idle(self) -> DialogState:
        """No question open; the token is kept, so tokens never repeat for a resident."""
        return DialogState(t=self.t)

    def dump(self) -> dict:
        """The dict stored in Resident.dialog (defaults left out, as the old states were)."""
        return self.model_dump(mode="json", exclude_defaults=True) | {"t": self.t}


def load(raw: object) -> DialogState:
    """The stored state, validated; an unreadable one becomes idle (keeping its token)."""
    if not isinstance(raw, dict):
        return DialogState()
    try:
        return DialogState.model_validate(raw)
    except ValidationError:
        token = raw.get("t")
        return DialogState(t=token if isinstance(token, int) and token >= 0 else 0)
