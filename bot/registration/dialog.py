"""The registration dialog: which question is open, asking it, and taking its answers.

The state is a typed model (bot.registration.state.DialogState) kept in the account's
`Resident.dialog`, so any web process can continue a conversation another one started,
and a restart loses nothing. The questions may be about the account holder or about one
of their family profiles (`state.who`): the answers are stored on that profile's row
(the "subject"), the state always on the account's.

`queue` holds the configured questions not yet decided; `known` those asked or decided
(a question no rule could still need is decided without asking: steps.next_question).
`n`/`total` number the questions honestly: `total` is an upper bound that never grows,
`exact` says it is certain. `dp` is a date being tapped in parts (元号 → 年 → 月 → 日),
`last` the child just added (read back), `again` a topic toggled (short re-ask).

`t` is the step token: every question sent gets a new one and writes it into its
buttons, so a tap on an older message is recognised and the open question is asked again.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from linebot.v3.messaging import Message, PostbackAction, TextMessage

from bot.clock import TOKYO
from bot.registration.language import lang_of
from bot.registration.state import LABEL_STEP, DialogState, load
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
from messages import (
    STEPS,
    Ask,
    build_finished,
    build_note,
    build_question,
    build_review,
    decode,
    say,
)
from messages.dates import parse_date, parse_day, readback_date
from messages.family import about_line, build_family_list, build_label_question, family_note
from messages.questions import DATE_STEPS


def today(ctx) -> dt.date:
    """The local date in Asia/Tokyo (dates without a time are local, config.md)."""
    return ctx.now.astimezone(TOKYO).date()


def state_of(account: Resident) -> DialogState:
    """The account's dialog state, validated (old or damaged states are tolerated)."""
    return load(account.dialog)


def save(account: Resident, state: DialogState) -> None:
    """Store the state whole (a JSON column does not notice in-place changes)."""
    account.dialog = state.dump()


def subject_of(account: Resident, state: DialogState) -> Resident | None:
    """Whose answers the open question is about: the account, or one of its profiles
    (None when that profile was deleted meanwhile, e.g. from another device)."""
    if state.who is None:
        return account
    return next((p for p in account.profiles if p.id == state.who), None)


def begin_registration(ctx, account: Resident, subject: Resident | None = None) -> list[Message]:
    """Start asking the configured questions that could matter (about `subject`, a family
    profile, if given), from the first."""
    steps = questions_for(ctx.wiring.config)
    who = subject.id if subject is not None and subject.is_profile else None
    save(account, DialogState(mode="register", queue=list(steps), who=who, t=state_of(account).t))
    return _next(ctx, account)


def _next(ctx, account: Resident) -> list[Message]:
    """Ask the next question worth asking (numbered honestly), or finish."""
    state = state_of(account)
    subject = subject_of(account, state)
    if subject is None:
        return _gone(account, state)
    config, on, profile = ctx.wiring.config, today(ctx), profile_of(subject)
    step, rest, known = next_question(config, profile, state.queue, frozenset(state.known), on)
    if step is None:
        return finish(ctx, account)
    left, exact = outlook(config, profile, step, rest, known, on)
    n = state.n + 1
    total = n + left
    # The total never grows: a later answer can only rule questions out (and says so).
    total = min(total, state.total if state.total is not None else total)
    save(
        account,
        DialogState(
            mode="register",
            step=step,
            queue=rest,
            known=sorted(known),
            n=n,
            total=total,
            exact=exact and total == n + left,
            t=state.t,
            who=state.who,
        ),
    )
    return [ask(ctx, account)]


def begin_edit(ctx, account: Resident, step: str, subject: Resident | None = None) -> list[Message]:
    """Ask one question again (about `subject`, a family profile, if given), then review."""
    subject = subject or account
    chosen = [i.topic for i in subject.interests]
    who = subject.id if subject.is_profile else None
    save(account, DialogState(mode="edit", step=step, t=state_of(account).t, sel=chosen, who=who))
    return [ask(ctx, account)]


def in_progress(account: Resident) -> bool:
    """True while a question is open."""
    return state_of(account).open


def ask(ctx, account: Resident, note: str | None = None) -> Message:
    """Send the open question again under a new step token (older buttons become stale)."""
    state = state_of(account)
    state.t += 1
    save(account, state)
    if state.step == LABEL_STEP:  # what to call a new family member (typed)
        return build_label_question(note, lang_of(account))
    return build_question(_ask_of(ctx, account, state, note))


def _ask_of(ctx, account: Resident, state: DialogState, note: str | None = None) -> Ask:
    municipality = ctx.wiring.config.municipality
    choices = {"district": municipality.districts, "interests": municipality.topics}
    progress = (state.n, state.total or state.n) if state.mode == "register" else None
    part = state.dp
    subject = subject_of(account, state) or account
    return Ask(
        step=state.step,
        token=state.t,
        today=today(ctx),
        progress=progress,
        progress_exact=state.exact if state.mode == "register" else True,
        choices=tuple(choices.get(state.step, ())),
        chosen=frozenset(state.sel),
        children=len(state.kids),
        parent_birth=subject.birth_date,
        page=state.page,
        note=note,
        era=part.era,
        decade=part.dec,
        year=part.y,
        month=part.m,
        last_child=dt.date.fromisoformat(state.last) if state.last else None,
        repeat=state.again,
        lang=lang_of(account),
        labels=municipality.topic_names(lang_of(account)) if state.step == "interests" else {},
        about=about_line(subject.label, lang_of(account)) if subject.is_profile else None,
    )


def typed(ctx, account: Resident, text: str) -> list[Message] | None:
    """A typed answer to the open question (a date, or a button's label); None if not one."""
    state = state_of(account)
    step = state.step
    if step not in STEPS:  # none open, or the family label (bot.registration.family)
        return None
    fields = {"a": "ans", "q": step, "t": str(state.t)}
    if step in DATE_STEPS:
        part = state.dp
        day = parse_date(text)
        number = parse_day(text) if day is None and part.y and part.m else None
        if number is not None:
            try:
                day = dt.date(part.y, part.m, number)
            except ValueError:
                return [ask(ctx, account, note="date_not_read")]
        if day is not None:
            return answer(ctx, account, fields, day)
    wanted = _plain(text)
    question = build_question(_ask_of(ctx, account, state))
    for item in question.quick_reply.items if question.quick_reply else []:
        action = item.action
        if isinstance(action, PostbackAction) and _plain(action.label) == wanted:
            return answer(ctx, account, decode(action.data), None)
    return None


def _plain(text: str) -> str:
    plain = unicodedata.normalize("NFKC", text or "").strip().lstrip("✓").strip()
    return re.sub(r"\s*(?:です|でした)?[。.!！]*$", "", plain)


def answer(ctx, account: Resident, fields: dict[str, str], date: dt.date | None) -> list[Message]:
    """Take a tap on a question's button; a stale or wrong tap re-asks the open question."""
    state = state_of(account)
    if not state.open:
        return []
    if fields.get("t") != str(state.t) or fields.get("q") != state.step:
        return [ask(ctx, account, note="old_button")]
    subject = subject_of(account, state)
    if subject is None:
        return _gone(account, state)
    if fields.get("a") == "page":
        state.page += 1
        save(account, state)
        return [ask(ctx, account)]
    municipality = ctx.wiring.config.municipality
    choices = {"district": municipality.districts, "interests": municipality.topics}
    tap = Answer(
        action=fields.get("a", ""),
        value=fields.get("v"),
        date=date,
        today=today(ctx),
        choices=tuple(choices.get(state.step, ())),
    )
    state.last = None
    state.again = False
    try:
        finished = store_answer(subject, state.step, tap, state)
    except Again as again:
        return [ask(ctx, account, note=again.note)]
    said, state.said = state.said, None
    save(account, state)
    if not finished:
        # A topic toggled: say only what is chosen now, not the instructions again.
        state.again = state.step == "interests"
        save(account, state)
        return [ask(ctx, account)]
    # Every date is read back (in Japanese: 和暦 with 西暦) before the next question.
    lang = lang_of(account)
    readback = []
    if said:
        day = readback_date(dt.date.fromisoformat(said), lang)
        readback = [TextMessage(text=say("date_registered", lang, date=day))]
    return [*readback, *advance(ctx, account)]


def advance(ctx, account: Resident) -> list[Message]:
    """Move past a finished question: the next one, the review after an edit, or the end."""
    state = state_of(account)
    subject = subject_of(account, state)
    if subject is None:
        return _gone(account, state)
    if state.mode == "edit":
        save(account, state.idle())
        recheck(ctx, subject)
        return [build_note("changed", lang_of(account)), review(ctx, account, subject)]
    known = {*state.known, state.step}
    if "children" in state.queue and subject.household_size == 1:
        # Living alone: no child lives with them, and the city's child programs concern
        # children in the household — so the answer is known; don't ask for it.
        subject.children = []
        subject.children_answered = True
        known.add("children")
    state.queue = [q for q in state.queue if q not in known]
    state.known = sorted(known)
    save(account, state)
    return _next(ctx, account)


def finish(ctx, account: Resident) -> list[Message]:
    """All questions answered or skipped: the resident (or family profile) is registered."""
    state = state_of(account)
    subject = subject_of(account, state) or account
    save(account, state.idle())
    if subject.registered_at is None:
        subject.registered_at = ctx.now
        ctx.record("registered")  # a family profile counts once, like a resident
    recheck(ctx, subject)
    lang = lang_of(account)
    if subject.is_profile:
        return [family_note("family_added", subject.label, lang), family_list(account)]
    return [build_finished(lang)]


def recheck(ctx, subject: Resident) -> None:
    """Registered, or an answer changed: the scheduler checks for catch-up notices (cheap)."""
    # Only registered residents: a half-finished registration reaches nobody yet.
    if subject.registered_at is not None:
        ctx.session.add(CatchupMark(resident=subject, marked_at=ctx.now))


def review(ctx, account: Resident, subject: Resident | None = None) -> Message:
    """The review of every configured question's answer (of a family profile, if given)."""
    steps = questions_for(ctx.wiring.config)
    subject = subject or account
    lang = lang_of(account)
    names = ctx.wiring.config.municipality.topic_names(lang)
    if subject.is_profile:
        return build_review(
            profile_of(subject), steps, lang=lang, topic_names=names, who=subject.label
        )
    return build_review(
        profile_of(subject),
        steps,
        paused=account.notices_paused,
        lang=lang,
        topic_names=names,
        family=True,
    )


def family_list(account: Resident) -> Message:
    """家族の登録: the account's family profiles, each to review, change or delete."""
    labels = [(p.label, p.registered_at is not None) for p in account.profiles]
    return build_family_list(labels, lang_of(account))


def _gone(account: Resident, state: DialogState) -> list[Message]:
    # The family profile the questions were about was deleted (another device).
    save(account, state.idle())
    return [family_note("family_not_found", "", lang_of(account)), family_list(account)]
