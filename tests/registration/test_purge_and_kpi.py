"""Purging residents who blocked the account long ago, and the KPI counts of registration."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from sqlalchemy import delete, func, select, update

from bot.cli import kpi_command
from bot.residents.purge import purge_unfollowed
from bot.store.models import Resident, ResidentActivity, ResidentChild, ResidentInterest
from tests.conftest import DEFAULT_NOW
from tests.registration.chat import Chat, register_quickly, texts


def add_resident(session, *, unfollowed_days_ago: int | None) -> Resident:
    """A registered resident with a child and an interest, maybe unfollowed some days ago."""
    gone = unfollowed_days_ago is not None
    resident = Resident(
        line_user_id="U" + f"{session.scalar(select(func.count(Resident.id))) + 1:032x}",
        following=not gone,
        unfollowed_at=DEFAULT_NOW - dt.timedelta(days=unfollowed_days_ago) if gone else None,
        consented_at=DEFAULT_NOW,
        registered_at=DEFAULT_NOW,
        birth_date=dt.date(1980, 1, 1),
        children_answered=True,
        children=[ResidentChild(birth_date=dt.date(2015, 1, 1))],
        interests=[ResidentInterest(topic="子育て")],
    )
    session.add(resident)
    session.flush()
    return resident


def test_purge_removes_only_residents_unfollowed_beyond_the_retention(wiring):
    """Unfollowed 31 days ago: purged with children and interests; 29 days ago: kept."""
    with wiring.session_factory() as s, s.begin():
        add_resident(s, unfollowed_days_ago=31)
        kept_recent = add_resident(s, unfollowed_days_ago=29).id
        kept_following = add_resident(s, unfollowed_days_ago=None).id
    with wiring.session_factory() as s, s.begin():
        assert purge_unfollowed(s, DEFAULT_NOW, 30) == 1
    with wiring.session_factory() as s:
        assert set(s.scalars(select(Resident.id))) == {kept_recent, kept_following}
        assert s.scalar(select(func.count()).select_from(ResidentChild)) == 2
        assert s.scalar(select(func.count()).select_from(ResidentInterest)) == 2
        purged = s.scalar(select(func.count()).where(ResidentActivity.kind == "purged"))
    assert purged == 1


def test_purge_twice_purges_nothing_more(wiring):
    """Purging is idempotent."""
    with wiring.session_factory() as s, s.begin():
        add_resident(s, unfollowed_days_ago=40)
    for expected in (1, 0):
        with wiring.session_factory() as s, s.begin():
            assert purge_unfollowed(s, DEFAULT_NOW, 30) == expected


def test_following_after_the_purge_starts_afresh(sim, live_bot):
    """Once purged, following again is a new resident: welcome and consent again."""
    chat = Chat(sim)
    register_quickly(chat)
    sim.unfollow(chat.user_id)
    wiring = live_bot.wiring
    wiring.clock.set(wiring.clock.now() + dt.timedelta(days=31))
    with wiring.session_factory() as s, s.begin():
        assert purge_unfollowed(s, wiring.clock.now(), wiring.settings.unfollow_retention_days) == 1
    reply = chat.follow()
    assert "消し方" in texts(reply) and chat.labels() == [
        "同意して登録する",
        "あとで",
        "Language / 言語",
    ]
    sim.assert_no_problems()


def test_kpi_counts_after_scripted_registrations(sim, live_bot, capsys):
    """followers, registrations, deletions, unfollows and purges as contracts.md defines them."""
    registered, deleted, blocked, halfway, follower = (Chat(sim, n) for n in "ABCDE")
    for chat in (registered, deleted, blocked):
        register_quickly(chat)
    deleted.menu("delete")
    deleted.tap("削除する")
    sim.unfollow(blocked.user_id)
    halfway.follow()
    halfway.tap("同意して登録する")
    follower.follow()
    wiring = live_bot.wiring
    with wiring.session_factory() as s, s.begin():
        purge_unfollowed(s, wiring.clock.now() + dt.timedelta(days=31), 30)
    capsys.readouterr()  # drop the log lines written so far; keep only the command's JSON
    assert kpi_command(wiring, as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    # registered, deleted (still a friend of the account), halfway, follower
    assert figures["followers"] == 4
    assert figures["registrations"] == 1  # consented, answered, still following
    assert figures["consented"] == 2
    assert (figures["deletions"], figures["unfollows"], figures["purged"]) == (1, 1, 1)
    with wiring.session_factory() as s:
        kinds = dict(
            s.execute(
                select(ResidentActivity.kind, func.count()).group_by(ResidentActivity.kind)
            ).all()
        )
    assert kinds["consent"] == 4 and kinds["registered"] == 3 and kinds["follow"] == 5


def test_the_nightly_purge_goes_in_chunks_and_deletes_every_candidate(wiring, monkeypatch):
    """`purge` (the nightly job, `todoku residents purge`) deletes CHUNK residents to a
    transaction — PostgreSQL holds a lock per resident until its commit — and all of them."""
    from bot.residents import purge as purging

    monkeypatch.setattr(purging, "CHUNK", 2)
    with wiring.session_factory() as s, s.begin():
        for _ in range(5):
            add_resident(s, unfollowed_days_ago=40)
        kept = add_resident(s, unfollowed_days_ago=None).id
    assert purging.purge(wiring.session_factory, DEFAULT_NOW, 30) == 5
    with wiring.session_factory() as s:
        assert list(s.scalars(select(Resident.id))) == [kept]
        purged = s.scalar(select(func.count()).where(ResidentActivity.kind == "purged"))
    assert purged == 5


def test_the_purge_waits_for_a_webhook_holding_a_candidate_and_never_deadlocks(
    backend, wiring, engine
):
    """A webhook batch holds X, a purge candidate, who unblocks the account, and then
    deletes D (削除する; the deletion trigger takes RESIDENTS_LOCK). The purge running
    meanwhile used to take that lock (its own deletion's trigger) and then wait for X's row:
    a deadlock, which PostgreSQL breaks after a second by failing one side. Now the purge
    locks its candidates first, as every webhook transaction does, so it waits for the
    batch, which commits at once; X, following again, is not purged."""
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    from bot.residents.purge import purge
    from bot.store import queries
    from tests.helpers import in_thread, wait_for_lock_waits

    with wiring.session_factory() as s, s.begin():
        x = add_resident(s, unfollowed_days_ago=40).line_user_id
        d = add_resident(s, unfollowed_days_ago=None).line_user_id
    with wiring.session_factory() as batch, engine.connect() as probe:
        batch.begin()
        queries.lock_residents(batch, [x, d])  # as every webhook transaction starts
        batch.execute(queries.resident_by_line_id(lock=True), {"line_user_id": x})
        batch.execute(
            update(Resident)
            .where(Resident.line_user_id == x)
            .values(following=True, unfollowed_at=None)
        )
        purging, outcome = in_thread(lambda: purge(wiring.session_factory, DEFAULT_NOW, 30))
        wait_for_lock_waits(probe, 1)  # the purge waits for the batch
        started = time.monotonic()
        batch.execute(delete(Resident).where(Resident.line_user_id == d))
        batch.commit()
        took = time.monotonic() - started
        purging.join(10)
    assert outcome == [0]  # no error, nobody purged: X follows again
    assert took < 0.9  # PostgreSQL's deadlock check waits a second
    with wiring.session_factory() as s:
        assert list(s.scalars(select(Resident.line_user_id))) == [x]
