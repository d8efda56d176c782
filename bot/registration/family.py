"""家族の登録 (代理受信): a resident adds, reviews, changes and deletes family profiles.

A family profile is a Resident row with no LINE id, the account as its guardian and a label
the resident chose (「母」). Adding one: the family consent (what is kept about them), the
label (typed, or a common one tapped), then the same questions as for the resident, about
the family member (bot.registration.dialog with `state.who`). Postbacks: `a=family`, `v`
what to do, `w` the profile's label — always looked up among the tapping account's own
profiles, so a forged label reaches nobody else's data.
"""

from __future__ import annotations

from linebot.v3.messaging import Message

from bot.registration import dialog
from bot.registration.language import lang_of
from bot.registration.state import LABEL_STEP, DialogState
from bot.store.models import Resident
from messages.family import (
    LABEL_MAX,
    MAX_PROFILES,
    build_family_consent,
    build_family_delete_confirm,
    build_label_question,
    clean_label,
    family_note,
)
from messages.prebuilt import build_not_registered, build_start_again


def show(ctx, account: Resident) -> list[Message]:
    """家族の登録: the list of profiles with 確認・変更 / 削除, and 家族を追加する."""
    return [dialog.family_list(account), *_resume(ctx, account)]


def on_postback(ctx, account: Resident | None, fields: dict[str, str], event) -> list[Message]:
    """A tap on a 家族の登録 button (`v`: list, add, agree, label, cancel, review, delete…)."""
    if account is None:
        return [build_start_again()]
    if account.consented_at is None or account.is_profile:
        return [build_not_registered(lang_of(account))]
    value, label = fields.get("v", ""), fields.get("w") or ""
    if value == "list":
        return show(ctx, account)
    if value == "add":
        return _add(ctx, account)
    if value == "agree":
        return _ask_label(ctx, account)
    if value == "label":
        return take_label(ctx, account, label)
    if value == "cancel":
        if dialog.state_of(account).step == LABEL_STEP:
            dialog.save(account, dialog.state_of(account).idle())
        return [family_note("family_cancelled", "", lang_of(account)), dialog.family_list(account)]
    profile = _labelled(account, label)
    if profile is None:
        return [family_note("family_not_found", "", lang_of(account)), dialog.family_list(account)]
    if value == "review":
        return [dialog.review(ctx, account, profile), *_resume(ctx, account)]
    if value == "continue":
        return dialog.begin_registration(ctx, account, profile)
    if value == "delete":
        return [build_family_delete_confirm(profile.label, lang_of(account))]
    if value == "delete_yes":
        return _delete(ctx, account, profile)
    return show(ctx, account)


def _add(ctx, account: Resident) -> list[Message]:
    if len(account.profiles) >= MAX_PROFILES:
        return show(ctx, account)
    # Consent covers the family member's data: said, and agreed to, before any question.
    return [build_family_consent(lang_of(account))]


def _ask_label(ctx, account: Resident, note: str | None = None, **values) -> list[Message]:
    if len(account.profiles) >= MAX_PROFILES:
        return show(ctx, account)
    state = dialog.state_of(account)
    dialog.save(account, DialogState(mode="label", step=LABEL_STEP, t=state.t + 1))
    return [build_label_question(note, lang_of(account), **values)]


def typed_label(ctx, account: Resident, text: str | None) -> list[Message]:
    """Typed text while the label is asked: it is the label."""
    return take_label(ctx, account, text or "")


def take_label(ctx, account: Resident, raw: str) -> list[Message]:
    """The family member's label: checked, then the profile is created and the questions
    about them begin."""
    if dialog.state_of(account).step != LABEL_STEP:
        return show(ctx, account)  # a label button of an older message
    label = clean_label(raw)
    if label is None:
        return _ask_label(ctx, account, "family_label_bad", max=LABEL_MAX)
    if _labelled(account, label) is not None:
        return _ask_label(ctx, account, "family_label_taken", label=label)
    profile = Resident(
        line_user_id=None,
        label=label,
        following=account.following,
        followed_at=None,
        children_answered=False,
    )
    account.profiles.append(profile)
    account.mirror_to_profiles()  # consent, following and pause as the account's
    ctx.session.flush()  # its id names it in the dialog state
    ctx.record("family_added")
    return dialog.begin_registration(ctx, account, profile)


def _delete(ctx, account: Resident, profile: Resident) -> list[Message]:
    # Children, interests and program answers go with the row (ON DELETE CASCADE);
    # deliveries keep their counts with resident_id set to NULL.
    state = dialog.state_of(account)
    if state.who == profile.id:
        dialog.save(account, state.idle())
    label = profile.label
    account.profiles.remove(profile)
    ctx.session.flush()
    ctx.record("family_deleted")
    return [family_note("family_deleted", label, lang_of(account)), dialog.family_list(account)]


def _labelled(account: Resident, label: str) -> Resident | None:
    return next((p for p in account.profiles if p.label == label), None)


def _resume(ctx, account: Resident) -> list[Message]:
    if dialog.in_progress(account) and dialog.state_of(account).step != LABEL_STEP:
        return [dialog.ask(ctx, account)]
    return []
