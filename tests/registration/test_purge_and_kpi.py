"""Purging residents who blocked the account long ago, and the KPI counts of registration."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

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
