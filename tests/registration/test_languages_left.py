"""A new friend's language left "being asked" is learned later by the clock process
(language.learn_left), on both databases.

A follow nobody answers (standby mode) learns its language by a call after the commit.
That call is dropped when the process's queue is full (LINE down for long) and dies with
its process; the row then stayed "being asked", read as Japanese, for good: an English
reader got Japanese notices and the Japanese menu.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select, update

from bot.line.richmenu import ensure_rich_menu, menu_id_for
from bot.registration import language, outbox
from bot.registration.language import LEFT_AFTER, learn_left
from bot.store import queries
from bot.store.models import LANGUAGE_ASKING, Resident
from bot.wiring import wire
from tests.conftest import settings_on_linesim
from tests.registration.chat import stored_language
from tests.webhooks import body_of, event, sign

LATER = LEFT_AFTER + LEFT_AFTER / 10


@pytest.fixture
def wiring_on_linesim(engine, clock, linesim_server):
    """The clock process's wiring, its LINE being linesim."""
    return wire(settings_on_linesim(engine, linesim_server), clock=clock, engine=engine)


def _new_friend(wiring, user_id: str) -> None:
    """Stored as a follow stores a new friend: their language being asked."""
    with wiring.session_factory.begin() as session:
        session.execute(
            queries.new_friend(),
            {
                "line_user_id": user_id,
                "following": True,
                "followed_at": wiring.clock.now(),
                "language": LANGUAGE_ASKING,
            },
        )


def _profiles_asked(linesim_server) -> list[str]:
    return [
        r["path"].rsplit("/", 1)[1]
        for r in linesim_server.sim.state.requests
        if r["path"].startswith("/v2/bot/profile/")
    ]


def _friend(linesim_server, name: str, lang: str | None) -> str:
    state = linesim_server.sim.state
    user = state.create_user(name, language=lang)
    state.set_following(user, True)
    return user.user_id


def test_a_standby_follow_whose_call_after_the_commit_was_dropped_gets_its_language_later(
    live_bot, linesim_server, engine, clock, monkeypatch
):
    """The process's queue is full (LINE was down): the standby follow's call that would
    learn the language is dropped and the row stays "being asked". Ten minutes later the
    clock process's job asks LINE, stores English and links the English menu."""
    wiring = live_bot.wiring
    assert ensure_rich_menu(wiring) is not None
    user = _friend(linesim_server, "Anna", "en-US")
    monkeypatch.setattr(outbox, "MAX_QUEUED", 0)
    body = body_of(event("follow", user, mode="standby"))
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}
    answer = requests.post(
        live_bot.url + "/callback", data=body.encode(), headers=headers, timeout=30
    )
    assert answer.status_code == 200
    assert stored_language(engine, user) == LANGUAGE_ASKING
    assert _profiles_asked(linesim_server) == []  # the call was dropped

    assert learn_left(wiring) == 0  # not yet: its own call may still be on its way
    assert _profiles_asked(linesim_server) == []
    clock.advance(LATER)
    assert learn_left(wiring) == 1
    assert stored_language(engine, user) == "en"
    assert linesim_server.sim.state.users[user].rich_menu_id == menu_id_for(wiring, "en")
    assert learn_left(wiring) == 0  # learned once: nobody is asked again
    assert _profiles_asked(linesim_server) == [user]


def test_line_not_answering_leaves_them_for_the_next_run(
    wiring_on_linesim, linesim_server, engine, clock
):
    """LINE answers 500: nothing is stored (not Japanese for good) and one call is made,
    not one per waiting friend; when LINE answers again both are learned."""
    users = [_friend(linesim_server, "Anna", "en"), _friend(linesim_server, "Binh", "vi-VN")]
    for user in users:
        _new_friend(wiring_on_linesim, user)
    clock.advance(LATER)
    linesim_server.sim.faults.configure({"error_rate": 1.0})
    assert learn_left(wiring_on_linesim) == 0
    assert [stored_language(engine, u) for u in users] == [LANGUAGE_ASKING] * 2
    assert len(_profiles_asked(linesim_server)) == 1
    linesim_server.sim.faults.configure({})
    assert learn_left(wiring_on_linesim) == 2
    assert [stored_language(engine, u) for u in users] == ["en", "vi"]


def test_a_chosen_language_is_kept_and_someone_gone_from_line_reads_japanese(
    wiring_on_linesim, linesim_server, engine, clock
):
    """A friend who chose Vietnamese meanwhile is not asked; one LINE no longer knows as a
    friend (404: blocked) is an answer — Japanese is stored, so they are not asked every
    minute for ever; a friend whose app shares no language reads Japanese too."""
    chose = _friend(linesim_server, "Chi", "en")
    blocked = _friend(linesim_server, "Dan", "en")
    silent = _friend(linesim_server, "Eri", None)
    for user in (chose, blocked, silent):
        _new_friend(wiring_on_linesim, user)
    with engine.begin() as conn:
        conn.execute(update(Resident).where(Resident.line_user_id == chose).values(language="vi"))
    linesim_server.sim.state.set_following(linesim_server.sim.state.users[blocked], False)
    clock.advance(LATER)
    assert learn_left(wiring_on_linesim) == 2
    assert sorted(_profiles_asked(linesim_server)) == sorted([blocked, silent])
    assert [stored_language(engine, u) for u in (chose, blocked, silent)] == ["vi", "ja", "ja"]


def test_the_clock_process_runs_the_job(wiring):
    """The active scheduler runs learn_left every LEFT_EVERY seconds."""
    from bot.dispatch.scheduler import build_scheduler

    scheduler = build_scheduler(wiring, [language.scheduler_job()])
    job = scheduler.get_job("languages-left")
    assert job.func is learn_left and job.args == (wiring,)
    assert job.trigger.interval.total_seconds() == language.LEFT_EVERY


def test_a_family_profile_added_meanwhile_takes_the_language_too(
    wiring_on_linesim, linesim_server, engine, clock
):
    """A profile copies its account's language when it is added; added while the account's
    was still being asked, it gets the language learned late too, as a chosen one would
    (Resident.mirror_to_profiles). Another account's profile keeps its own."""
    from sqlalchemy import insert

    user = _friend(linesim_server, "Anna", "en")
    other = _friend(linesim_server, "Binh", "vi")
    for account in (user, other):
        _new_friend(wiring_on_linesim, account)
    with engine.begin() as conn:
        ids = dict(conn.execute(select(Resident.line_user_id, Resident.id)).all())
        conn.execute(update(Resident).where(Resident.line_user_id == other).values(language="vi"))
        for account, lang in ((user, LANGUAGE_ASKING), (other, "vi")):
            conn.execute(
                insert(Resident).values(
                    guardian_id=ids[account], label="母", following=True, language=lang
                )
            )
    clock.advance(LATER)
    assert learn_left(wiring_on_linesim) == 1
    with engine.connect() as conn:
        profiles = dict(
            conn.execute(
                select(Resident.guardian_id, Resident.language).where(
                    Resident.guardian_id.is_not(None)
                )
            ).all()
        )
    assert profiles == {ids[user]: "en", ids[other]: "vi"}
    assert stored_language(engine, user) == "en"
