"""The resident's language: preselected from their LINE profile, chosen from the welcome or
the menu (「Language / 言語」), and the rich menu of that language linked to them.

Only the language code is stored (residents.language); the profile's other fields (name,
picture, status) are never read into Todoku.
"""

from __future__ import annotations

import functools

from bot.line.richmenu import show_menu_in
from bot.store import queries
from bot.store.models import Resident
from messages import DEFAULT, LANGUAGES, from_line_profile, known


def lang_of(resident: Resident | None) -> str:
    """The language to answer in (Japanese for someone unknown)."""
    return known(resident.language) if resident is not None else DEFAULT


def profile_language(wiring, line_user_id: str) -> str | None:
    """The language of the resident's LINE app, asked from LINE (None if unknown).

    The webhook asks it before opening the event's transaction: the call waits on LINE
    (tens of ms, at most PROFILE_TIMEOUT) and must not hold the database's write lock (on
    SQLite every webhook waited behind it) or a resident's row lock meanwhile.
    """
    line = getattr(wiring, "line", None)
    asker = getattr(line, "profile_language", None)
    return asker(line_user_id) if asker else None


def is_known(wiring, line_user_id: str) -> bool:
    """Whether Todoku has this LINE user as a resident (read outside any transaction)."""
    return _stored(wiring, line_user_id) is not None


def _stored(wiring, line_user_id: str):
    """The resident's row (its `language`) read in a session of its own, or None."""
    with wiring.session_factory() as session:
        return session.execute(queries.resident_language(), {"line_user_id": line_user_id}).first()


def preselect(ctx, line_user_id: str) -> str:
    """A new friend's language: their LINE app's, if it is one of ours; else Japanese."""
    # Asked before the transaction (webhook.py): never again inside it, where the wait on
    # LINE would hold the write lock, also when LINE did not say (no `language` shared).
    asked = ctx.profile_language
    if not ctx.profile_asked:
        asked = profile_language(ctx.wiring, line_user_id)
    return from_line_profile(asked)


def set_language(
    ctx, resident: Resident | None, line_user_id: str, value: str | None
) -> Resident | None:
    """Set the chosen language and show its rich menu; None when `value` is not one of
    ours (then the choice is shown: bot.registration.menu.choose_language)."""
    if value not in LANGUAGES:
        return None
    if resident is None:
        # Someone Todoku does not know yet (no follow seen): only the LINE id, as on a follow.
        resident = Resident(line_user_id=line_user_id, following=True, followed_at=ctx.now)
        ctx.session.add(resident)
    resident.language = value
    resident.mirror_to_profiles()  # the family's notices come in the account's language
    show_menu_later(ctx, line_user_id, value)
    return resident


def show_menu_later(ctx, line_user_id: str, lang: str) -> None:
    """Link `lang`'s rich menu to the resident once their transaction has committed: the
    call to LINE (tens of ms, more when LINE is slow) then holds neither SQLite's one writer
    nor the resident's lock, and nothing is linked for a choice that rolled back."""
    ctx.after_commit(functools.partial(_show_menu, ctx.wiring, line_user_id, lang))


def _show_menu(wiring, line_user_id: str, lang: str) -> None:
    show_menu_in(wiring, line_user_id, lang)
    # Two choices in quick succession (English, then Vietnamese) link from two threads or
    # processes, in either order: whichever finishes last looks again, and the menu of the
    # language stored last is the one left.
    stored = _stored(wiring, line_user_id)
    if stored is not None and known(stored.language) != lang:
        show_menu_in(wiring, line_user_id, known(stored.language))
