"""max_per_week: a resident over the cap is deferred with a reason, then sent on a later day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.clock import TOKYO
from bot.config.models import Window
from bot.dispatch.resume import send_deferred
from bot.dispatch.run import run_slot
from bot.dispatch.window import WEEK, inside, next_day_with_room
from bot.store.models import Delivery
from tests.dispatch.conftest import FAST, NOW, notices, write_config


@pytest.fixture
def config_dir(tmp_path):
    """At most one notice a week, so a second campaign on the same day is deferred."""
    return write_config(tmp_path / "config", max_per_week=1)


def deliveries(wiring, campaign_program: str) -> list[Delivery]:
    with wiring.session_factory() as session:
        query = select(Delivery).where(Delivery.program_id == campaign_program)
        return list(session.scalars(query))


def test_over_the_cap_is_deferred_with_a_reason_and_sent_when_its_day_comes(
    line, people, sim, clock
):
    """The second notice of the week waits 7 days (inside the window), then goes out."""
    user_id = people.add(interests=("住まい",))[1]
    run_slot(line, "senior-2026", NOW, policy=FAST)
    summary = run_slot(line, "reform-2026", NOW, policy=FAST)
    assert summary.counts == {"deferred": 1}
    [deferred] = deliveries(line, "jutaku-reform")
    assert "max_per_week" in deferred.reason
    assert deferred.defer_until == NOW + WEEK  # the first notice leaves the week then
    assert len(notices(sim, user_id)) == 1
    clock.set(NOW + dt.timedelta(days=3))
    assert send_deferred(line, policy=FAST) == 0  # not yet
    clock.set(NOW + WEEK)
    assert send_deferred(line, policy=FAST) == 1
    assert len(notices(sim, user_id)) == 2
    [sent] = deliveries(line, "jutaku-reform")
    assert sent.status == "sent" and sent.reason is None


def test_a_deferred_notice_is_skipped_if_the_resident_left_meanwhile(line, people, sim, clock):
    """When its day comes the resident is re-checked: blocked → skipped with the reason."""
    resident_id, user_id = people.add(interests=("住まい",))
    run_slot(line, "senior-2026", NOW, policy=FAST)
    run_slot(line, "reform-2026", NOW, policy=FAST)
    from bot.store.models import Resident

    with line.session_factory() as session, session.begin():
        session.get(Resident, resident_id).following = False
    clock.set(NOW + WEEK)
    assert send_deferred(line, policy=FAST) == 0
    [skipped] = deliveries(line, "jutaku-reform")
    assert skipped.status == "skipped" and "no longer registered" in skipped.reason
    assert len(notices(sim, user_id)) == 1


def test_a_deferred_notice_is_skipped_if_the_program_closed(line, people, sim, clock):
    """A deferral past the program's deadline is skipped, not sent late."""
    people.add(interests=("住まい",))
    run_slot(line, "senior-2026", NOW, policy=FAST)
    run_slot(line, "reform-2026", NOW, policy=FAST)
    clock.set(dt.datetime(2026, 12, 26, 10, 0, tzinfo=TOKYO))  # jutaku-reform closed 12-25
    send_deferred(line, policy=FAST)
    [skipped] = deliveries(line, "jutaku-reform")
    assert skipped.status == "skipped" and "program closed" in skipped.reason


WINDOWS = [
    Window(start=dt.time(8), end=dt.time(20)),
    Window(start=dt.time(0), end=None),
    Window(start=dt.time(9, 30), end=dt.time(17, 15)),
]
naive = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31))
moments = naive.map(lambda d: d.replace(tzinfo=TOKYO))


@settings(max_examples=300, deadline=None)
@given(
    now=moments,
    offsets=st.lists(st.integers(min_value=1, max_value=7 * 24 * 60 - 1), max_size=8),
    limit=st.integers(min_value=1, max_value=5),
    window=st.sampled_from(WINDOWS),
)
def test_a_deferred_time_is_inside_the_window_on_a_later_day_with_room(now, offsets, limit, window):
    """Whatever the history: inside the window, not today, and under the cap at that moment."""
    recent = [now - dt.timedelta(minutes=m) for m in offsets]
    at = next_day_with_room(recent, now, limit, window)
    assert inside(window, at)
    assert at.date() > now.date()
    assert sum(1 for t in recent if t > at - WEEK) < limit
    # The earliest such moment: one minute earlier (inside the window, a later day) is full.
    earlier = at - dt.timedelta(minutes=1)
    if inside(window, earlier) and earlier.date() > now.date():
        assert sum(1 for t in recent if t > earlier - WEEK) >= limit


def test_two_campaigns_recorded_at_once_keep_the_weekly_cap(line, people, sim):
    """Two campaigns' runs recording the same resident at the same moment (a staff
    `todoku send` beside the scheduler): the second counts the first's notice, so one is
    sent and the other deferred — not both, which would break max_per_week (here 1)."""
    import threading

    from bot.dispatch import outbox
    from bot.store.models import Resident
    from tests.helpers import hold_delivery, wait_for_lock_waits

    if line.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the second recorder waits for the first's commit")
    resident_id, user_id = people.add(interests=("住まい",))
    factory = line.session_factory
    recordings = []
    for campaign, program in (
        ("senior-2026", "senior-smartphone"),
        ("reform-2026", "jutaku-reform"),
    ):
        run_id = outbox.claim_run(factory, campaign, program, NOW, False, NOW)
        recordings.append(outbox.Recording(factory, line.config, outbox.get_run(factory, run_id)))
    threads = [threading.Thread(target=r.next_chunk, args=(NOW,)) for r in recordings]
    with line.engine.connect() as holding, line.engine.connect() as watching:
        # The first recorder's row for the resident waits for this one, with its chunk
        # chosen and its transaction open, while the second recorder starts.
        held = holding.begin()
        hold_delivery(holding, recordings[0].run.id, resident_id)
        for started, thread in enumerate(threads, start=1):
            thread.start()
            wait_for_lock_waits(watching, started)
        held.rollback()
        for thread in threads:
            thread.join(10)
    with factory() as session:
        statuses = sorted(
            session.scalars(
                select(Delivery.status)
                .join(Resident, Resident.id == Delivery.resident_id)
                .where(Resident.line_user_id == user_id)
            )
        )
    assert statuses == ["deferred", "sending"]
