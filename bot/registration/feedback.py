"""A resident's answer to a notice: 申請済み / 対象外・不要 stops that program's notices.

The answer is one ProgramResponse row per (resident, program), overwritten by a later
answer and deleted by 元に戻す; slot audiences exclude residents who have one. A button
of a notice for a family member carries the profile's label (`w`): the answer is the
profile's, found among the tapping account's own profiles only.
"""

from __future__ import annotations

from linebot.v3.messaging import Message

from bot.registration.language import lang_of
from bot.store.models import ProgramResponse, Resident
from messages import (
    build_feedback_confirm,
    build_feedback_thanks,
    build_feedback_undone,
    localized,
)
from messages.family import family_note
from messages.notice import ANSWERS
from messages.prebuilt import build_not_registered, build_note, build_start_again


def program_feedback(
    ctx, resident: Resident | None, fields: dict[str, str], event
) -> list[Message]:
    """申請済み / 対象外・不要 / 元に戻す on a notice: store or remove the answer, say so kindly."""
    program_id, answer = fields.get("q", ""), fields.get("v", "")
    if resident is None:
        return [build_start_again()]
    lang = lang_of(resident)
    if resident.consented_at is None:
        return [build_not_registered(lang)]
    who = fields.get("w") or None
    subject = resident if who is None else profile_labelled(resident, who)
    if subject is None:
        return [family_note("family_not_found", "", lang)]
    name = _program_name(ctx.wiring.config, program_id, lang)
    if answer == "confirm" and program_id:
        # 申請しました: asked once more before it stops the program's notices.
        return [build_feedback_confirm(name, program_id, lang, who)]
    if answer == "not_yet":
        return [build_note("feedback_not_yet", lang)]
    existing = ctx.session.get(ProgramResponse, (subject.id, program_id))
    if answer == "undo":
        if existing is not None:
            ctx.session.delete(existing)
        return [build_feedback_undone(name, lang, who)]
    if answer not in ANSWERS or not program_id:
        return []
    if existing is None:
        ctx.session.add(
            ProgramResponse(
                resident_id=subject.id, program_id=program_id, answer=answer, answered_at=ctx.now
            )
        )
    else:
        existing.answer, existing.answered_at = answer, ctx.now
    return [build_feedback_thanks(name, program_id, answer, lang, who)]


def profile_labelled(account: Resident, label: str) -> Resident | None:
    """The account's own family profile with this label (None: deleted or renamed)."""
    return next((p for p in account.profiles if p.label == label), None)


def _program_name(config, program_id: str, lang: str) -> str | None:
    # None when the program left the configuration since the notice went out.
    program = config.find_program(program_id)
    return localized(program, lang).name if program else None
