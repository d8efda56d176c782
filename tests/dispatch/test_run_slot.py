"""A send slot reaches exactly its audience, once, however often or concurrently it fires."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select

from bot.clock import TOKYO
from bot.dispatch.run import run_slot
from bot.store.models import CampaignRun, Delivery, ProgramResponse
from tests.dispatch.conftest import FAST, NOW, multicasts, notices

LATER = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)
REMINDER = dt.datetime(2027, 1, 27, 10, 0, tzinfo=TOKYO)  # senior: before_close 30d


def test_slot_reaches_exactly_the_eligible_consented_following_unpaused(line, people, sim):
    """Only registered, following, not paused residents eligible on the day get the notice."""
    eligible = people.many(2, age=70)
    others = [
        people.add(age=30)[1],  # not eligible (age)
        people.add(age=None)[1],  # skipped the birth date: a rule about it does not hold
        people.add(registered=False)[1],  # never consented
        people.add(following=False)[1],  # blocked the account
        people.add(paused=True)[1],  # paused notices
    ]
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.claimed and summary.status == "done" and summary.counts == {"sent": 2}
    for user_id in eligible:
        [notice] = notices(sim, user_id)
        assert notice["altText"].startswith("スマートフォンを買う費用の補助があります。")
    for user_id in others:
        assert notices(sim, user_id) == []
    sim.assert_no_problems()


def test_notice_links_are_click_tracked_on_the_public_url(line, people, sim):
    """くわしく見る and オンラインで申し込む go through /r/<token> on TODOKU_PUBLIC_URL."""
    user_id = people.add()[1]
    run_slot(line, "senior-2026", NOW, policy=FAST)
    [notice] = notices(sim, user_id)
    uris = [
        b["action"]["uri"]
        for b in notice["contents"]["footer"]["contents"]
        if b.get("action", {}).get("type") == "uri"
    ]
    web = [u for u in uris if not u.startswith("tel:")]
    assert len(web) == 2 and uris[-1] == "tel:0237552111"  # and a tap-to-call button
    assert all(u.startswith("https://todoku.example.jp/r/") for u in web)
    assert all("logoform" not in u for u in uris)


def test_the_same_slot_run_twice_or_concurrently_sends_once(line, people, sim):
    """A repeated call and two threads at once: one run, one multicast, one notice each."""
    residents = people.many(3)
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(run_slot(line, "senior-2026", NOW, policy=FAST))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert sorted(r.claimed for r in results) == [False, True] and not again.claimed
    assert len(multicasts(sim)) == 1
    assert all(len(notices(sim, u)) == 1 for u in residents)
    with line.session_factory() as session:
        assert len(session.scalars(select(CampaignRun)).all()) == 1


def test_a_later_slot_skips_those_told_but_a_reminder_reaches_them(line, people, sim, clock):
    """after_open/at slots tell each resident once; before_close reminds everyone again."""
    first = people.add()[1]
    run_slot(line, "senior-2026", NOW, policy=FAST)
    second = people.add()[1]  # registered after the first slot
    clock.set(LATER)
    assert run_slot(line, "senior-2026", LATER, policy=FAST).counts == {"sent": 1}
    assert len(notices(sim, first)) == 1 and len(notices(sim, second)) == 1
    clock.set(REMINDER)
    reminder = run_slot(line, "senior-2026", REMINDER, policy=FAST)
    assert reminder.counts == {"sent": 2}
    assert len(notices(sim, first)) == 2 and len(notices(sim, second)) == 2


def test_an_answer_stops_further_notices_about_the_program(line, people, sim, clock):
    """A resident who answered 申請済み gets no reminder; the others do."""
    applied_id, applied = people.add()
    other = people.add()[1]
    run_slot(line, "senior-2026", NOW, policy=FAST)
    with line.session_factory() as session, session.begin():
        session.add(
            ProgramResponse(
                resident_id=applied_id,
                program_id="senior-smartphone",
                answer="applied",
                answered_at=NOW,
            )
        )
    clock.set(REMINDER)
    run_slot(line, "senior-2026", REMINDER, policy=FAST)
    assert len(notices(sim, applied)) == 1
    assert len(notices(sim, other)) == 2


def test_a_failed_notice_does_not_count_as_told(line, people, sim, clock):
    """A notice that failed for good goes out in the campaign's next slot."""
    user_id = people.add()[1]
    sim.faults(monthly_quota=0)
    assert run_slot(line, "senior-2026", NOW, policy=FAST).counts == {"failed": 1}
    sim.faults()
    clock.set(LATER)
    assert run_slot(line, "senior-2026", LATER, policy=FAST).counts == {"sent": 1}
    assert len(notices(sim, user_id)) == 1
    with line.session_factory() as session:
        reasons = session.scalars(select(Delivery.reason).where(Delivery.status == "failed"))
        assert "monthly" in next(iter(reasons))
