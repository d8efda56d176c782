"""The resident's language: preselected from their LINE profile (asked by the reply thread
that welcomes a new friend, not by the webhook's request), chosen from the welcome or the
menu (「Language / 言語」), and the rich menu of that language linked to them.

Only the language code is stored (residents.language); the profile's other fields (name,
picture, status) are never read into Todoku.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta

from bot.clock import Periodic
from bot.line.richmenu import show_menu_in
from bot.logs import get_logger
from bot.store import queries
from bot.store.models import LANGUAGE_ASKING, Resident
from messages import DEFAULT, LANGUAGES, from_line_profile, known
from messages.prebuilt import MessageJson, build_welcome

log = get_logger("todoku.language")

# A new friend whose language is still being asked this long after their follow will not
# have it learned by their follow's own call (see learn_left); the welcome's reply thread
# asks at once, and retries of a push a few minutes later.
LEFT_AFTER = timedelta(minutes=10)
# Residents one run of learn_left asks LINE about at most (one call each); the job runs
# every LEFT_EVERY seconds in the clock process.
LEFT_BATCH = 200
LEFT_EVERY = 60.0


def lang_of(resident: Resident | None) -> str:
    """The language to answer in (Japanese for someone unknown)."""
    return known(resident.language) if resident is not None else DEFAULT


# A new friend's welcome as their follow's transaction stores it, before their language is
# known: the reply thread asks LINE and builds the welcome (`welcome_now`) when it sends.
WELCOME_LATER = MessageJson('{"todoku":"welcome_later"}')
WELCOME_LATER_JSON = f"[{WELCOME_LATER}]"  # the outbox row's messages (outbox.messages_json)


def welcome_later(ctx, line_user_id: str, *, answered: bool = True) -> list[MessageJson]:
    """Store a new friend (their LINE id only, the language still being asked) and answer
    with the welcome to build once LINE has said their app's language.

    LINE is not asked here: the call takes tens of ms (at most PROFILE_TIMEOUT), which held
    a web thread per follow (a third of a campaign day's events), and inside the
    transaction would hold SQLite's one writer or the resident's lock. A follow nobody
    answers (a standby channel's copy: `answered` False) still learns the language, and
    links its rich menu, after the commit: their notices and their menu come in it."""
    # On the session's connection: a Core INSERT needs none of Session.execute's work.
    ctx.session.connection().execute(
        queries.new_friend(),
        {
            "line_user_id": line_user_id,
            "following": True,
            "followed_at": ctx.now,
            "language": LANGUAGE_ASKING,
        },
    )
    if not answered:
        ctx.after_commit(functools.partial(learn_quietly, ctx.wiring, line_user_id))
        return []
    return [WELCOME_LATER]


def learn_now(
    wiring, line_user_id: str, store: Callable[[str, str], str | None] | None = None
) -> str:
    """Ask LINE for a new friend's language (Japanese if it is not one of ours, or LINE does
    not answer) and store it unless a language is stored already (the resident chose one,
    or an earlier attempt stored it); the language to use: the stored one wins.
    `store(user_id, lang)` stores it and returns what the row holds (the web process's
    EventWriter.learn: in its next batch); by default a transaction of its own."""
    asked = from_line_profile(profile_language(wiring, line_user_id))
    if store is None:
        store = functools.partial(store_language, wiring)
    stored = store(line_user_id, asked)
    return asked if stored is None or stored == LANGUAGE_ASKING else known(stored)


def learn_quietly(wiring, line_user_id: str) -> None:
    """A follow nobody answers (standby): its language learned (`learn_now`) and that
    language's rich menu linked, as a welcome would have (`show_menu_now`)."""
    show_menu_now(wiring, line_user_id, learn_now(wiring, line_user_id))


def welcome_now(
    wiring, line_user_id: str, store: Callable[[str, str], str | None] | None = None
) -> tuple[str, str]:
    """A new friend's welcome (LINE's JSON array) and its language, on the reply thread:
    the language learned (`learn_now`) before the welcome is built in it and leaves."""
    lang = learn_now(wiring, line_user_id, store)
    city = wiring.config.municipality.name_in(lang)
    return "[" + ", ".join(build_welcome(city, lang)) + "]", lang


def store_language(wiring, line_user_id: str, lang: str, *, profiles: bool = False) -> str | None:
    """`learn_in` in a transaction of its own."""
    # SQLite: at the gate, like every writer of the web process (bot.store.writegate).
    with wiring.write_gate.passage(), wiring.engine.begin() as conn:
        return learn_in(conn, line_user_id, lang, profiles=profiles)


def learn_in(conn, line_user_id: str, lang: str, *, profiles: bool = False) -> str | None:
    """Store a new friend's language if theirs is still being asked; the language their row
    holds then (None: no such resident). `profiles`: their family profiles too, when it was
    stored (a welcome's language is stored before any profile can exist: not asked then)."""
    stored = conn.execute(queries.learn_language(), {"user_id": line_user_id, "lang": lang})
    value = stored.scalar()
    if value is None:  # chosen meanwhile, stored by an earlier attempt, or gone
        value = conn.execute(queries.resident_language(), {"line_user_id": line_user_id})
        return value.scalar()
    if profiles:
        conn.execute(queries.mirror_language(), {"user_id": line_user_id, "lang": lang})
    return value


def learn_left(wiring) -> int:
    """Learn the languages still being asked LEFT_AFTER after the follow; how many were
    stored.

    A follow nobody answers (standby) learns its language by a call after the commit,
    which is dropped when LINE has been down long enough to fill the reply queue, and dies
    with its process; the row then stayed "being asked", read as Japanese: an English or
    Vietnamese reader got Japanese notices until they found the language menu. Here each
    such new friend is asked again; LINE not answering leaves them for the next run.
    Run every LEFT_EVERY seconds by the clock process (`scheduler_job`)."""
    asker = getattr(getattr(wiring, "line", None), "ask_profile_language", None)
    if asker is None:
        return 0
    before = wiring.clock.now() - LEFT_AFTER
    with wiring.session_factory() as session:
        users = list(session.scalars(queries.languages_left(before, LEFT_BATCH)))
    learned = 0
    for line_user_id in users:
        answered, profile = asker(line_user_id)
        if not answered:
            break  # LINE is not answering now: every one of them is asked next time
        lang = from_line_profile(profile)
        # A family profile added meanwhile (it copied "being asked") mirrors it too.
        if store_language(wiring, line_user_id, lang, profiles=True) == lang:
            learned += 1
            show_menu_now(wiring, line_user_id, lang)
    if users:
        log.info("languages_learned_late", waiting=len(users), learned=learned)
    return learned


def scheduler_job() -> Periodic:
    """learn_left as the clock process's job (`todoku scheduler`, and the demo's)."""
    return Periodic("languages-left", learn_left, LEFT_EVERY)


def profile_language(wiring, line_user_id: str) -> str | None:
    """The language of the resident's LINE app, asked from LINE (None if unknown)."""
    line = getattr(wiring, "line", None)
    asker = getattr(line, "profile_language", None)
    return asker(line_user_id) if asker else None


def _stored(wiring, line_user_id: str):
    """The resident's row (its `language`) read in a session of its own, or None."""
    with wiring.session_factory() as session:
        return session.execute(queries.resident_language(), {"line_user_id": line_user_id}).first()


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
    if stored is None or stored.language == LANGUAGE_ASKING:
        return  # gone, or a new friend's language not stored yet: its welcome links it
    if known(stored.language) != lang:
        show_menu_in(wiring, line_user_id, known(stored.language))


def show_menu_now(wiring, line_user_id: str, lang: str) -> None:
    """Link `lang`'s rich menu (not Japanese: the default) from a reply thread; never fatal."""
    if lang == DEFAULT:
        return
    try:
        _show_menu(wiring, line_user_id, lang)
    except Exception as exc:  # the database's re-read failed: the chat works with the default
        log.warning("rich_menu_not_linked", language=lang, error=type(exc).__name__)
