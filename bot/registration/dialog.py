"""The registration dialog: which question is open, asking it, and taking its answers.

The state lives in `Resident.dialog` (JSON), so any web process can continue a
conversation another one started, and a restart loses nothing:

    {"mode": "register" | "edit", "step": "district", "t": 7, "queue": [...],
     "n": 2, "total": 5, "kids": ["2019-05-10"], "sel": ["子育て"], "page": 0}

`t` is the step token: every question sent gets a new one and writes it into its
buttons, so a tap on an older message is recognised and the open question is asked again.
With no question open the state is just {"t": 7}. The state is always replaced, never
mutated in place: a plain JSON column does not notice in-place changes.
"""

from __future__ import annotations

import datetime as dt

from linebot.v3.messaging import Message

from bot.clock import TOKYO
from bot.registration.steps import Again, Answer, profile_of, questions_for, store_answer
from bot.store.models import CatchupMark, Resident
from messages import Ask, build_finished, build_note, build_question, build_review


def today(ctx) -> dt.date:
    """The local date in Asia/Tokyo (dates without a time are local, config.md)."""
    return ctx.now.astimezone(TOKYO).date()


def begin_registration(ctx, resident: Resident) -> list[Message]:
    """Start asking every configured question from the first."""
    steps = questions_for(ctx.wiring.config)
    resident.dialog = {"mode": "register", "step": steps[0], "queue": list(steps[1:]),
                       "n": 1, "total": len(steps), "t": _token(resident)}  # fmt: skip
    return [ask(ctx, resident)]


def begin_edit(ctx, resident: Resident, step: str) -> list[Message]:
    """Ask one question again, then show the review."""
    chosen = [i.topic for i in resident.interests]
    resident.dialog = {"mode": "edit", "step": step, "t": _token(resident), "sel": chosen}
    return [ask(ctx, resident)]


def in_progress(resident: Resident) -> bool:
    """True while a question is open."""
    return bool(resident.dialog and resident.dialog.get("step"))


def ask(ctx, resident: Resident, note: str | None = None) -> Message:
    """Send the open question again under a new step token (older buttons become stale)."""
    state = dict(resident.dialog, t=_token(resident) + 1)
    resident.dialog = state
    municipality = ctx.wiring.config.municipality
    choices = {"district": municipality.districts, "interests": municipality.topics}
    progress = (state["n"], state["total"]) if state["mode"] == "register" else None
    return build_question(Ask(
        step=state["step"], token=state["t"], today=today(ctx), progress=progress,
        choices=tuple(choices.get(state["step"], ())), chosen=frozenset(state.get("sel", [])),
        children=len(state.get("kids", [])), parent_birth=resident.birth_date,
        page=state.get("page", 0), note=note,
    ))  # fmt: skip


def answer(ctx, resident: Resident, fields: dict[str, str], date: dt.date | None) -> list[Message]:
    """Take a tap on a question's button; a stale or wrong tap re-asks the open question."""
    state = dict(resident.dialog or {})
    if not state.get("step"):
        return []
    if fields.get("t") != str(state.get("t")) or fields.get("q") != state["step"]:
        return [ask(ctx, resident, note="old_button")]
    if fields.get("a") == "page":
        resident.dialog = dict(state, page=state.get("page", 0) + 1)
        return [ask(ctx, resident)]
    municipality = ctx.wiring.config.municipality
    choices = {"district": municipality.districts, "interests": municipality.topics}
    tap = Answer(action=fields.get("a", ""), value=fields.get("v"), date=date,
                 today=today(ctx), choices=tuple(choices.get(state["step"], ())))  # fmt: skip
    try:
        finished = store_answer(resident, state["step"], tap, state)
    except Again as again:
        return [ask(ctx, resident, note=again.note)]
    resident.dialog = state
    return advance(ctx, resident) if finished else [ask(ctx, resident)]


def advance(ctx, resident: Resident) -> list[Message]:
    """Move past a finished question: the next one, the review after an edit, or the end."""
    state = resident.dialog
    if state["mode"] == "edit":
        resident.dialog = _idle(resident)
        recheck(ctx, resident)
        return [build_note("changed"), review(ctx, resident)]
    queue = list(state["queue"])
    total = state["total"]
    if "children" in queue and resident.household_size == 1:
        # Living alone: no child lives with them, and the city's child programs concern
        # children in the household — so the answer is known; don't ask for it.
        resident.children = []
        resident.children_answered = True
        queue.remove("children")
        total -= 1
    if "single_parent" in queue and resident.children_answered and not resident.children:
        # ひとり親 means raising children alone: not asked of someone who said they have none.
        queue.remove("single_parent")
        total -= 1
    if not queue:
        return finish(ctx, resident)
    resident.dialog = {"mode": "register", "step": queue[0], "queue": queue[1:],
                       "n": state["n"] + 1, "total": total, "t": state["t"]}  # fmt: skip
    return [ask(ctx, resident)]


def finish(ctx, resident: Resident) -> list[Message]:
    """All questions answered or skipped: the resident is registered."""
    resident.dialog = _idle(resident)
    if resident.registered_at is None:
        resident.registered_at = ctx.now
        ctx.record("registered")
    recheck(ctx, resident)
    return [build_finished()]


def recheck(ctx, resident: Resident) -> None:
    """Registered, or an answer changed: the scheduler checks for catch-up notices (cheap)."""
    # Only registered residents: a half-finished registration reaches nobody yet.
    if resident.registered_at is not None:
        ctx.session.add(CatchupMark(resident=resident, marked_at=ctx.now))


def review(ctx, resident: Resident) -> Message:
    """The review of every configured question's answer."""
    steps = questions_for(ctx.wiring.config)
    return build_review(profile_of(resident), steps, paused=resident.notices_paused)


def _idle(resident: Resident) -> dict:
    # Keep the token when no question is open, so tokens never repeat for a resident.
    return {"t": _token(resident)}


def _token(resident: Resident) -> int:
    return int((resident.dialog or {}).get("t", 0))
