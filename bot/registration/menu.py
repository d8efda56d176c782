"""What residents do outside the questions: consent, the rich menu's four items, deletion.

Each function takes the handler context and the resident (None when the LINE user is
not known, e.g. after deleting their data) and returns the replies.
"""

from __future__ import annotations

from collections.abc import Callable

from linebot.v3.messaging import Message

from bot.links import MENU_SOURCE, notice_links
from bot.registration import dialog, family
from bot.registration.language import lang_of, set_language
from bot.registration.state import LABEL_STEP
from bot.registration.steps import profile_of, questions_for, unanswered
from bot.store.models import Resident
from messages import (
    CityContact,
    build_delete_confirm,
    build_language_choice,
    build_later,
    build_paused,
    build_privacy,
    build_program_list,
    city_of,
    wants_contact,
)
from messages.prebuilt import build_contact, build_not_registered, build_note, build_start_again
from messages.questions import DATE_STEPS
from segments import holds

MenuAction = Callable[[object, Resident], list[Message]]


def consent(ctx, resident: Resident | None, line_user_id: str) -> list[Message]:
    """同意して登録する: record consent and ask the first question (or go on where it was)."""
    if resident is None:
        # The resident deleted their data and starts again: a new row, as on a follow.
        resident = Resident(line_user_id=line_user_id, following=True, followed_at=ctx.now)
        ctx.session.add(resident)
    if resident.consented_at is None:
        resident.consented_at = ctx.now
        ctx.record("consent")
        return dialog.begin_registration(ctx, resident)
    return resume(ctx, resident) or [dialog.review(ctx, resident)]


def later(ctx, resident: Resident | None) -> list[Message]:
    """あとで: nothing is stored; say how to register later."""
    if resident is not None and resident.consented_at is not None:
        return resume(ctx, resident) or [dialog.review(ctx, resident)]
    return [build_later(lang_of(resident))]


def city_contact(config) -> CityContact:
    """The city's phone and counter from municipality.contact (either may be missing)."""
    return city_of(config.municipality)


def free_text(ctx, resident: Resident, text: str | None) -> list[Message]:
    """Typed text or a sticker: an answer to the open question if it reads as one, else
    the city's phone and counter with the menu — never a dead end."""
    contact, lang = city_contact(ctx.wiring.config), lang_of(resident)
    if resident.consented_at is None:
        return [
            build_contact(contact, registered=False, understood=wants_contact(text), lang=lang),
            build_not_registered(lang),
        ]
    if not dialog.in_progress(resident):
        return [build_contact(contact, registered=True, understood=wants_contact(text), lang=lang)]
    if dialog.state_of(resident).step == LABEL_STEP:
        return family.typed_label(ctx, resident, text)
    if text:
        replies = dialog.typed(ctx, resident, text)
        if replies is not None:
            return replies
    if not text:  # a sticker, a photo...: the question again, kindly
        return [dialog.ask(ctx, resident, note="use_buttons")]
    if dialog.state_of(resident).step in DATE_STEPS and not wants_contact(text):
        return [dialog.ask(ctx, resident, note="date_not_read")]
    # Not an answer: the phone and counter (and the menu), then the open question again.
    registered = resident.registered_at is not None
    return [
        build_contact(contact, registered=registered, understood=wants_contact(text), lang=lang),
        dialog.ask(ctx, resident),
    ]


def resume(ctx, resident: Resident, note: str | None = None) -> list[Message]:
    """The open question asked again, if there is one (appended to other replies)."""
    return [dialog.ask(ctx, resident, note=note)] if dialog.in_progress(resident) else []


def menu(ctx, resident: Resident | None, item: str | None) -> list[Message]:
    """A tap on the rich menu; needs consent first (deletion does not)."""
    action = MENU.get(item or "")
    if action is None:
        return resume(ctx, resident) if resident else [build_start_again()]
    if resident is None:
        return [build_start_again()]
    if resident.consented_at is None and action not in (confirm_delete, show_programs):
        return [build_not_registered(lang_of(resident))]
    return action(ctx, resident)


def show_review(ctx, resident: Resident) -> list[Message]:
    """登録内容の確認・変更: every answer with a 変更 button."""
    return [dialog.review(ctx, resident), *resume(ctx, resident)]


def show_programs(ctx, resident: Resident) -> list[Message]:
    """使える制度を見る: open programs (today, Asia/Tokyo) the resident is eligible for, their
    chosen topics first. Someone not registered (あとで) sees the programs for everybody."""
    config = ctx.wiring.config
    on = dialog.today(ctx)
    guest = resident.consented_at is None
    profile = profile_of(resident)
    fitting = [
        p
        for p in config.programs
        if p.is_open(on) and (p.eligible is None or (not guest and holds(p.eligible, profile, on)))
    ]
    skipped = not guest and bool(unanswered(resident, questions_for(config)))
    settings = ctx.wiring.settings
    topics = [t for t in config.municipality.topics if t in profile.interests]
    replies = build_program_list(
        fitting,
        on,
        config.municipality.homepage,
        skipped_some=skipped,
        # Tracked like notices: visits to the HP from LINE are one of the plan's KPIs.
        links=lambda program: notice_links(settings, program, None, MENU_SOURCE),
        city=city_contact(config),
        topics=topics,
        guest=guest,
        lang=lang_of(resident),
        topic_names=config.municipality.topic_names(lang_of(resident)),
    )
    if guest:
        return [*replies, build_not_registered(lang_of(resident))]
    # LINE takes at most five messages in one reply; the question adds one.
    return [*replies, *resume(ctx, resident)]


def toggle_pause(ctx, resident: Resident) -> list[Message]:
    """配信の停止・再開: flip notices_paused and say clearly which it is now."""
    resident.notices_paused = not resident.notices_paused
    resident.mirror_to_profiles()  # the family's notices come to the same LINE
    return [build_paused(resident.notices_paused, lang_of(resident)), *resume(ctx, resident)]


def confirm_delete(ctx, resident: Resident) -> list[Message]:
    """登録情報の削除: ask once more before deleting."""
    return [build_delete_confirm(lang_of(resident))]


def delete(ctx, resident: Resident | None, value: str | None) -> list[Message]:
    """削除する removes every personal datum at once; やめる keeps everything."""
    if resident is None:
        return [build_start_again()]
    lang = lang_of(resident)
    if value != "yes":
        return [build_note("delete_cancelled", lang), *resume(ctx, resident)]
    # Children, interests and program answers go with the row (ON DELETE CASCADE);
    # deliveries keep their counts with resident_id set to NULL, so no past notice can
    # be tied back to the person.
    line_user_id, followed_at = resident.line_user_id, resident.followed_at
    ctx.session.delete(resident)
    ctx.session.flush()
    # They still follow the account: keep exactly what a new follower has before consent
    # (the LINE user id, and the language to talk to them in), so the follower count stays
    # true and they can register again.
    ctx.session.add(
        Resident(line_user_id=line_user_id, following=True, followed_at=followed_at, language=lang)
    )
    ctx.record("deleted")
    return [build_note("deleted", lang)]


def choose_language(
    ctx, resident: Resident | None, line_user_id: str, value: str | None
) -> list[Message]:
    """「Language / 言語」 shows the four languages; a tap on one sets it, says so in that
    language and goes on where the resident was: consent, the open question or the review."""
    chosen = set_language(ctx, resident, line_user_id, value)
    if chosen is None:
        return [build_language_choice(lang_of(resident))]
    lang = chosen.language
    if chosen.consented_at is None:
        then = build_privacy(lang)
    elif dialog.in_progress(chosen):
        then = dialog.ask(ctx, chosen)
    else:
        then = dialog.review(ctx, chosen)
    return [build_note("language_set", lang), then]


def edit(ctx, resident: Resident | None, step: str | None, who: str | None = None) -> list[Message]:
    """変更 on the review: ask that one question, then show the review again. `who`: the
    label of the account's family profile whose review it was."""
    if resident is None:
        return [build_start_again()]
    subject = resident
    if who:
        subject = next((p for p in resident.profiles if p.label == who), None)
        if subject is None or resident.consented_at is None:
            return family.on_postback(ctx, resident, {"v": "review", "w": who}, None)
    if subject.registered_at is None:
        if dialog.in_progress(resident):
            return resume(ctx, resident, note="finish_first")
        return [build_not_registered(lang_of(resident))]
    if step not in questions_for(ctx.wiring.config):
        return [dialog.review(ctx, resident, subject)]
    return dialog.begin_edit(ctx, resident, step, subject)


MENU: dict[str, MenuAction] = {
    "review": show_review,
    "family": family.show,  # 家族の登録 (also a button on the review)
    "programs": show_programs,
    "pause": toggle_pause,
    "delete": confirm_delete,
}
