"""Which registration questions to ask, and how each answer is checked and stored.

Only the attributes some program or campaign rule reads are asked (plus topics, always):
the plan asks residents for no more than the city's programs need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.registration.state import DatePart, DialogState
from bot.store.models import Resident, ResidentChild, ResidentInterest
from messages import MAX_HOUSEHOLD, STEPS, earliest_birth, earliest_child_birth
from messages.dates import ERAS
from segments import Profile, attributes_used
from segments.relevance import could_hold, matters, not_answered

ALWAYS = frozenset({"interests"})  # topics are opt-ins every resident may choose


def questions_for(config) -> tuple[str, ...]:
    """The steps to ask, in the fixed order of STEPS, derived from every configured rule."""
    rules = [p.eligible for p in config.programs] + [c.audience for c in config.campaigns]
    used = frozenset().union(*(attributes_used(rule) for rule in rules if rule is not None))
    return tuple(step for step in STEPS if step in used | ALWAYS)


def conditions(config) -> list:
    """Every rule a question could matter to: program eligibility, and campaign audiences
    together with their program's eligibility (a tuple: all of them must hold)."""
    found: list = [p.eligible for p in config.programs if p.eligible is not None]
    for campaign in config.campaigns:
        if campaign.audience is not None:
            eligible = config.program(campaign.program).eligible
            found.append(campaign.audience if eligible is None else (eligible, campaign.audience))
    return found


def _built_in_skip(step: str, profile: Profile, known: frozenset[str]) -> bool:
    """Questions whose answer is already known: no child lives with someone living alone
    (the city's child programs concern children in the household); ひとり親 is not asked
    of someone who said they have no children."""
    if step == "children":
        return "household_size" in known and profile.household_size == 1
    if step == "single_parent":
        return "children" in known and profile.children is not None and not profile.children
    return False


def worth_asking(
    config,
    step: str,
    profile: Profile,
    known: frozenset[str],
    on: dt.date,
    *,
    before: frozenset[str] = frozenset(),
    certain: bool = False,
) -> bool:
    """Whether `step` is (with `certain`: will surely be) asked.

    `known`: the questions already asked or decided; `before`: those still to be asked
    before `step`, whose answers are not known yet. A question is asked only when some
    configured rule could still hold because of its answer, and its `ask_if` (if any)
    holds with the answers given so far (a question not asked yet counts as not answered).
    """
    if step in ALWAYS:
        return True
    if not certain and _built_in_skip(step, profile, known):
        return False
    if certain and (
        (step == "children" and "household_size" in before)
        or (step == "single_parent" and "children" in before)
        or _built_in_skip(step, profile, known)
    ):
        return False
    for_all = before if certain else frozenset()
    if not any(
        matters(rule, step, profile, known, on, for_all=for_all) for rule in conditions(config)
    ):
        return False
    question = config.questions.get(step)
    if question is None:
        return True
    later = frozenset(STEPS) - known - before
    view = not_answered(profile, later)
    return could_hold(question.ask_if, view, known | later, on, must=certain)


def next_question(
    config, profile: Profile, queue: list[str], known: frozenset[str], on: dt.date
) -> tuple[str | None, list[str], frozenset[str]]:
    """The next question worth asking, the queue after it, and what is known then."""
    queue = list(queue)
    while queue:
        step = queue.pop(0)
        if worth_asking(config, step, profile, known, on):
            return step, queue, known
        known = known | {step}  # decided: not asked (its answer stays "not given")
    return None, [], known


def outlook(
    config, profile: Profile, step: str, rest: list[str], known: frozenset[str], on: dt.date
) -> tuple[int, bool]:
    """How many of `rest` may still be asked after `step`, and whether that is certain."""
    may, sure = 0, True
    before = {step}
    for later in rest:
        possible = worth_asking(config, later, profile, known, on, before=frozenset(before))
        if possible:
            may += 1
            sure = sure and worth_asking(
                config, later, profile, known, on, before=frozenset(before), certain=True
            )
        before.add(later)
    return may, sure


def profile_of(resident: Resident) -> Profile:
    """The resident's answers as the segment engine sees them (None = skipped)."""
    return Profile(
        birth_date=resident.birth_date,
        district=resident.district,
        household_size=resident.household_size,
        pregnant=resident.pregnant,
        single_parent=resident.single_parent,
        children=tuple(c.birth_date for c in resident.children)
        if resident.children_answered
        else None,
        interests=frozenset(i.topic for i in resident.interests),
    )


def unanswered(resident: Resident, steps: Iterable[str]) -> list[str]:
    """The steps among `steps` the resident skipped (topics never count as skipped)."""
    profile = profile_of(resident)
    return [s for s in steps if s not in ALWAYS and getattr(profile, s) is None]


@dataclass(frozen=True)
class Answer:
    """One tap on a question: the postback fields and the date picker's date."""

    action: str  # ans, skip, done
    value: str | None
    date: dt.date | None
    today: dt.date
    choices: tuple[str, ...]  # the districts or topics configured now


class Again(Exception):
    """The answer cannot be used: ask the same question again, saying `note` first."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


def check_birth_date(day: dt.date | None, today: dt.date, earliest: dt.date, early: str) -> dt.date:
    """The day if it is a plausible birth date; Again with a kind note otherwise."""
    if day is None:
        raise Again("use_buttons")
    if day > today:
        raise Again("date_in_future")
    if day < earliest:
        raise Again(early)
    return day


def store_answer(resident: Resident, step: str, answer: Answer, state: DialogState) -> bool:
    """Apply one tap; True when the question is finished, False to ask it again (toggle)."""
    if answer.action == "skip":
        _SKIP[step](resident)
        return True
    return _STORE[step](resident, answer, state)


DATE_PARTS = {"era": "era", "dec": "dec", "y": "y", "m": "m"}


def take_date_part(value: str | None, state: DialogState) -> bool:
    """A tap on 元号 / 年の範囲 / 年 / 月 (or 選び直す): remember it; True if it was one."""
    if value == "restart":
        state.dp = DatePart()
        return True
    kind, _, raw = (value or "").partition(":")
    if kind not in DATE_PARTS:
        return False
    if kind == "era":
        if raw not in {era for _, era in ERAS}:
            raise Again("choice_unknown")
        state.dp = DatePart(era=raw)
        return True
    if not raw.isdigit() or state.dp.era is None:
        raise Again("choice_unknown")
    number = int(raw)
    limits = {"dec": (1, 99), "y": (1868, 2200), "m": (1, 12)}[kind]
    if not limits[0] <= number <= limits[1]:
        raise Again("choice_unknown")
    state.dp = state.dp.model_copy(update={kind: number})
    return True


def _birth_date(resident: Resident, a: Answer, state: DialogState) -> bool:
    if a.date is None and take_date_part(a.value, state):
        return False
    early = "date_too_old"
    resident.birth_date = check_birth_date(a.date, a.today, earliest_birth(a.today), early)
    state.dp = DatePart()
    state.said = resident.birth_date.isoformat()
    return True


def _choice(column: str) -> Callable[[Resident, Answer, DialogState], bool]:
    def store(resident: Resident, a: Answer, state: DialogState) -> bool:
        if a.value not in a.choices:
            raise Again("choice_unknown")
        setattr(resident, column, a.value)
        return True

    return store


def _household_size(resident: Resident, a: Answer, state: DialogState) -> bool:
    if a.value not in {str(n) for n in range(1, MAX_HOUSEHOLD + 1)}:
        raise Again("choice_unknown")
    resident.household_size = int(a.value)
    return True


def _children(resident: Resident, a: Answer, state: DialogState) -> bool:
    # Children are collected in the dialog state and stored together, so an edit that is
    # abandoned half-way leaves the previous answer intact.
    if a.action == "done" or a.value == "none":
        kids = [] if a.value == "none" else state.kids
        resident.children = [ResidentChild(birth_date=dt.date.fromisoformat(k)) for k in kids]
        resident.children_answered = True
        return True
    if a.date is None and take_date_part(a.value, state):
        return False
    earliest = earliest_child_birth(a.today, resident.birth_date)
    day = check_birth_date(a.date, a.today, earliest, "child_too_early")
    state.kids = sorted([*state.kids, day.isoformat()])
    state.last = day.isoformat()
    state.dp = DatePart()
    return False


def _yes_no(column: str) -> Callable[[Resident, Answer, DialogState], bool]:
    def store(resident: Resident, a: Answer, state: DialogState) -> bool:
        if a.value not in ("yes", "no"):
            raise Again("choice_unknown")
        setattr(resident, column, a.value == "yes")
        return True

    return store


def _interests(resident: Resident, a: Answer, state: DialogState) -> bool:
    chosen = [t for t in state.sel if t in a.choices]
    if a.action == "done":
        resident.interests = [ResidentInterest(topic=t) for t in chosen]
        return True
    if a.value not in a.choices:
        raise Again("choice_unknown")
    state.sel = [t for t in chosen if t != a.value] + ([] if a.value in chosen else [a.value])
    return False


def _clear(*columns: str) -> Callable[[Resident], None]:
    def skip(resident: Resident) -> None:
        for column in columns:
            setattr(resident, column, None)

    return skip


def _skip_children(resident: Resident) -> None:
    resident.children = []
    resident.children_answered = False


def _skip_interests(resident: Resident) -> None:
    resident.interests = []


_STORE: dict[str, Callable[[Resident, Answer, DialogState], bool]] = {
    "birth_date": _birth_date,
    "district": _choice("district"),
    "household_size": _household_size,
    "children": _children,
    "pregnant": _yes_no("pregnant"),
    "single_parent": _yes_no("single_parent"),
    "interests": _interests,
}
_SKIP: dict[str, Callable[[Resident], None]] = {
    "birth_date": _clear("birth_date"),
    "district": _clear("district"),
    "household_size": _clear("household_size"),
    "children": _skip_children,
    "pregnant": _clear("pregnant"),
    "single_parent": _clear("single_parent"),
    "interests": _skip_interests,
}
