"""The registration dialog: which question is open, asking it, and taking its answers.

The state lives in `Resident.dialog` (JSON), so any web process can continue a
conversation another one started, and a restart loses nothing:

    {"mode": "register" | "edit", "step": "district", "t": 7, "queue": [...],
     "known": ["birth_date"], "n": 2, "total": 5, "exact": false,
     "kids": ["2019-05-10"], "last": "2019-05-10", "sel": ["子育て"], "page": 0,
     "dp": {"era": "昭和", "dec": 21, "y": 1946, "m": 5}, "again": true}

`queue` holds the configured questions not yet decided; `known` those asked or decided
(a question no rule could still need is decided without asking: steps.next_question).
`n`/`total` number the questions honestly: `total` is an upper bound that never grows,
`exact` says it is certain. `dp` is a date being tapped in parts (元号 → 年 → 月 → 日),
`last` the child just added (read back), `again` a topic toggled (short re-ask).

`t` is the step token: every question sent gets a new one and writes it into its
buttons, so a tap on an older message is recognised and the open question is asked again.
With no question open the state is just {"t": 7}. The state is always replaced, never
mutated in place: a plain JSON column does not notice in-place changes.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from linebot.v3.messaging import Message, PostbackAction, TextMessage

from bot.clock import TOKYO
from bot.registration.language import lang_of
from bot.registration.steps import (
    Again,
    Answer,
    next_question,
    outlook,
    profile_of,
    questions_for,
    store_answer,
)
from bot.store.models import CatchupMark, Resident
from messages import Ask, build_finished, build_note, build_question, build_review, decode, say
from messages.dates import parse_date, parse_day, readback_date
from messages.questions import DATE_STEPS


def today(ctx) -> dt.date:
    """The local date in Asia/Tokyo (dates without a time are local, config.md)."""
    return ctx.now.astimezone(TOKYO).date()


def begin_registration(ctx, resident: Resident) -> list[Message]:
    """Start asking the configured questions that could matter, from the first."""
    steps = questions_for(ctx.wiring.config)
    resident.dialog = {"mode": "register", "queue": list(steps), "known": [], "n": 0,
                       "t": _token(resident)}  # fmt: skip
    return _next(ctx, resident)


def _next(ctx, resident: Resident) -> list[Message]:
    """Ask the next question worth asking (numbered honestly), or finish."""
    state = resident.dialog
    config, on, profile = ctx.wiring.config, today(ctx), profile_of(resident)
    known = frozenset(state.get("known", []))
    step, rest, known = next_question(config, profile, state["queue"], known, on)
    if step is None:
        return finish(ctx, resident)
    left, exact = outlook(config, profile, step, rest, known, on)
    n = state["n"] + 1
    total = n + left
    # The total never grows: a later answer can only rule questions out (and says so).
    total = min(total, state.get("total", total))
    resident.dialog = {"mode": "register", "step": step, "queue": rest, "known": sorted(known),
                       "n": n, "total": total, "exact": exact and total == n + left,
                       "t": state["t"]}  # fmt: skip
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
    return build_question(_ask_of(ctx, resident, state, note))


def _ask_of(ctx, resident: Resident, state: dict, note: str | None = None) -> Ask:
    municipality = ctx.wiring.config.municipality
    choices = {"district": municipality.districts, "interests": municipality.topics}
    progress = (state["n"], state["total"]) if state["mode"] == "register" else None
    part = state.get("dp", {})
    last = state.get("last")
    return Ask(
        step=state["step"], token=state["t"], today=today(ctx), progress=progress,
        progress_exact=state.get("exact", True),
        choices=tuple(choices.get(state["step"], ())), chosen=frozenset(state.get("sel", [])),
        children=len(state.get("kids", [])), parent_birth=resident.birth_date,
        page=state.get("page", 0), note=note, era=part.get("era"), decade=part.get("dec"),
        year=part.get("y"), month=part.get("m"),
        last_child=dt.date.fromisoformat(last) if last else None,
        repeat=bool(state.get("again")), lang=lang_of(resident),
        labels=municipality.topic_names(lang_of(resident)) if state["step"] == "interests" else {},
    )  # fmt: skip


def typed(ctx, resident: Resident, text: str) -> list[Message] | None:
    """A typed answer to the open question (a date, or a button's label); None if not one."""
    state = dict(resident.dialog or {})
    step = state.get("step")
    if not step:
        return None
    fields = {"a": "ans", "q": step, "t": str(state.get("t"))}
    if step in DATE_STEPS:
        part = state.get("dp", {})
        day = parse_date(text)
        number = parse_day(text) if day is None and {"y", "m"} <= part.keys() else None
        if number is not None:
            try:
                day = dt.date(part["y"], part["m"], number)
            except ValueError:
                return [ask(ctx, resident, note="date_not_read")]
        if day is not None:
            return answer(ctx, resident, fields, day)
    wanted = _plain(text)
    question = build_question(_ask_of(ctx, resident, state))
    for item in question.quick_reply.items if question.quick_reply else []:
        action = item.action
        if isinstance(action, PostbackAction) and _plain(action.label) == wanted:
            return answer(ctx, resident, decode(action.data), None)
    return None


def _plain(text: str) -> str:
    plain = unicodedata.normalize("NFKC", text or "").strip().lstrip("✓").strip()
    return re.sub(r"\s*(?:です|でした)?[。.!！]*$", "", plain)


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
    state.pop("last", None)
    state.pop("again", None)
    try:
        finished = store_answer(resident, state["step"], tap, state)
    except Again as again:
        return [ask(ctx, resident, note=again.note)]
    said = state.pop("said", None)
    resident.dialog = state
    if not finished:
        # A topic toggled: say only what is chosen now, not the instructions again.
        resident.dialog = dict(state, again=state["step"] == "interests")
        return [ask(ctx, resident)]
    # Every date is read back (in Japanese: 和暦 with 西暦) before the next question.
    lang = lang_of(resident)
    readback = [TextMessage(text=say("date_registered", lang, date=readback_date(
        dt.date.fromisoformat(said), lang)))] if said else []  # fmt: skip
    return [*readback, *advance(ctx, resident)]


def advance(ctx, resident: Resident) -> list[Message]:
    """Move past a finished question: the next one, the review after an edit, or the end."""
    state = resident.dialog
    if state["mode"] == "edit":
        resident.dialog = _idle(resident)
        recheck(ctx, resident)
        return [build_note("changed", lang_of(resident)), review(ctx, resident)]
    known = {*state.get("known", []), state["step"]}
    if "children" in state["queue"] and resident.household_size == 1:
        # Living alone: no child lives with them, and the city's child programs concern
        # children in the household — so the answer is known; don't ask for it.
        resident.children = []
        resident.children_answered = True
        known.add("children")
    queue = [q for q in state["queue"] if q not in known]
    resident.dialog = {**state, "queue": queue, "known": sorted(known)}
    return _next(ctx, resident)


def finish(ctx, resident: Resident) -> list[Message]:
    """All questions answered or skipped: the resident is registered."""
    resident.dialog = _idle(resident)
    if resident.registered_at is None:
        resident.registered_at = ctx.now
        ctx.record("registered")
    recheck(ctx, resident)
    return [build_finished(lang_of(resident))]


def recheck(ctx, resident: Resident) -> None:
    """Registered, or an answer changed: the scheduler checks for catch-up notices (cheap)."""
    # Only registered residents: a half-finished registration reaches nobody yet.
    if resident.registered_at is not None:
        ctx.session.add(CatchupMark(resident=resident, marked_at=ctx.now))


def review(ctx, resident: Resident) -> Message:
    """The review of every configured question's answer."""
    steps = questions_for(ctx.wiring.config)
    lang = lang_of(resident)
    names = ctx.wiring.config.municipality.topic_names(lang)
    return build_review(
        profile_of(resident), steps, paused=resident.notices_paused, lang=lang, topic_names=names
    )


def _idle(resident: Resident) -> dict:
    # Keep the token when no question is open, so tokens never repeat for a resident.
    return {"t": _token(resident)}


def _token(resident: Resident) -> int:
    return int((resident.dialog or {}).get("t", 0))
