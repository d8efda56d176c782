"""The clock process: one active scheduler (lease), a job per coming slot, missed slots after
downtime, and the housekeeping jobs (purge)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import TOKYO
from bot.dispatch import scheduler as clock_process
from bot.dispatch.run import run_slot
from bot.dispatch.scheduler import (
    Lease,
    add_slot_jobs,
    build_scheduler,
    catch_up_missed,
    purge_job,
)
from bot.residents import purge as purge_module
from bot.store.models import CampaignRun, Resident, ResidentChild, WebhookEvent
from tests.dispatch.conftest import FAST, NOW, multicasts, notices


def runs(wiring) -> dict[tuple[str, dt.datetime], CampaignRun]:
    with wiring.session_factory() as session:
        return {(r.campaign_id, r.slot_at): r for r in session.scalars(select(CampaignRun))}


def test_one_scheduler_holds_the_lease_and_a_standby_takes_over_after_expiry(line):
    """Renewed, the lease stays; unrenewed for 60 s, the standby takes it; the old one lost it."""
    active, standby = Lease(line.session_factory, "a"), Lease(line.session_factory, "b")
    assert active.acquire(NOW) and not standby.acquire(NOW)
    assert active.acquire(NOW + dt.timedelta(seconds=20))  # renewal
    assert not standby.acquire(NOW + dt.timedelta(seconds=70))  # renewed at +20: until +80
    assert standby.acquire(NOW + dt.timedelta(seconds=81))  # the active one died
    assert not active.acquire(NOW + dt.timedelta(seconds=82))
    standby.release()
    assert active.acquire(NOW + dt.timedelta(seconds=83))  # released: free at once


def test_every_coming_slot_gets_one_job(line):
    """One DateTrigger job per future slot, on the dispatch executor, coalesced."""
    scheduler = build_scheduler(line)
    ids = add_slot_jobs(scheduler, line)
    assert "slot:senior-2026:2026-11-25T10:00:00+09:00" in ids
    assert "slot:senior-2026:2026-11-22T10:00:00+09:00" not in ids  # now is not coming
    job = scheduler.get_job("slot:senior-2026:2026-11-25T10:00:00+09:00")
    assert job.coalesce and job.misfire_grace_time == clock_process.MISFIRE_GRACE
    assert add_slot_jobs(scheduler, line) == ids  # rebuilt, not doubled


def test_the_slot_job_runs_the_slot_once(line, people, sim):
    """run_slot_job is a module-level function: the same slot fired twice sends once."""
    user_id = people.add()[1]
    clock_process.run_slot_job(line, "senior-2026", NOW.isoformat())
    clock_process.run_slot_job(line, "senior-2026", NOW.isoformat())
    assert len(notices(sim, user_id)) == 1


def test_missed_slots_after_downtime_run_once_the_latest_and_expire_the_rest(
    line, people, sim, clock
):
    """Down from 11-22 to 11-24 12:00: each campaign's latest missed slot runs, earlier expire."""
    user_id = people.add(interests=("住まい",))[1]
    clock.set(dt.datetime(2026, 11, 24, 12, 0, tzinfo=TOKYO))
    catch_up_missed(line)
    done = runs(line)
    reform = [
        done["reform-2026", dt.datetime(2026, 11, d, 10, 0, tzinfo=TOKYO)] for d in (22, 23, 24)
    ]
    assert [r.status for r in reform] == ["expired", "expired", "done"]
    assert "superseded" in reform[0].reason
    assert done["senior-2026", NOW].status == "done"
    assert len(notices(sim, user_id)) == 2  # one per program, not one per missed slot
    catch_up_missed(line)  # a second pass finds nothing missed
    assert len(multicasts(sim)) == 2


def test_a_late_slot_expires_when_its_program_has_closed(line, people, sim, clock):
    """A slot run after the program's deadline records an expired run with the reason."""
    people.add(interests=("住まい",))
    clock.set(dt.datetime(2026, 12, 26, 9, 0, tzinfo=TOKYO))  # jutaku-reform closed 12-25
    slot = dt.datetime(2026, 12, 18, 10, 0, tzinfo=TOKYO)
    summary = run_slot(line, "reform-2026", slot, policy=FAST)
    assert summary.status == "expired" and "closed on 2026-12-25" in summary.reason
    assert multicasts(sim) == []


def test_catch_up_waits_for_the_window(line, people, sim, clock):
    """Outside the delivery window nothing is caught up; the first tick inside does it."""
    people.add()
    clock.set(dt.datetime(2026, 11, 22, 21, 0, tzinfo=TOKYO))
    assert catch_up_missed(line) == []
    assert multicasts(sim) == []


def test_the_nightly_job_forgets_webhook_claims_past_their_retention(wiring, monkeypatch):
    """Claims received 31 days ago are forgotten, a few to a transaction; those of 29 days
    ago and of today stay, so a redelivery of their events is still seen as one. Counted
    in real time, as the claims were stamped, whatever the dispatcher's clock says."""
    monkeypatch.setattr(purge_module, "CLAIM_CHUNK", 3)
    real_now = dt.datetime.now(dt.UTC)
    ages = {f"old-{n}": 31 for n in range(7)} | {"recent": 29, "today": 0}
    with wiring.session_factory() as s, s.begin():
        s.add_all(
            WebhookEvent(
                webhook_event_id=event_id,
                event_type="follow",
                received_at=real_now - timedelta(days=days),
            )
            for event_id, days in ages.items()
        )
    assert purge_job(wiring) == 0  # no resident to purge
    with wiring.session_factory() as s:
        left = set(s.scalars(select(WebhookEvent.webhook_event_id)))
    assert left == {"recent", "today"}
    assert purge_module.forget_webhook_claims(wiring.session_factory) == 0  # nothing more


def test_purge_job_forgets_residents_blocked_past_retention(wiring):
    """A resident who blocked 31 days ago is purged; one who blocked 29 days ago is kept."""
    now = wiring.clock.now()
    with wiring.session_factory() as s, s.begin():
        old = Resident(
            line_user_id="U" + "a" * 32, following=False, unfollowed_at=now - timedelta(days=31)
        )
        old.children = [ResidentChild(birth_date=now.date() - timedelta(days=400))]
        recent = Resident(
            line_user_id="U" + "b" * 32, following=False, unfollowed_at=now - timedelta(days=29)
        )
        s.add_all([old, recent])
    assert purge_job(wiring) == 1
    with wiring.session_factory() as s:
        left = s.scalars(select(Resident.line_user_id)).all()
        children = s.scalar(select(func.count()).select_from(ResidentChild))
    assert left == ["U" + "b" * 32]
    assert children == 0


def test_scheduler_has_the_housekeeping_jobs(wiring):
    """The clock runs purge nightly and re-reads the configuration every minute."""
    scheduler = build_scheduler(wiring)
    assert {job.id for job in scheduler.get_jobs()} == {"purge", "reload-config"}


def test_the_dashboard_snapshot_job_runs_on_the_housekeeping_threads(wiring):
    """`todoku scheduler` passes the dashboard's job: every 5 s it looks whether the
    snapshot is due (an interval old, asked for, another configuration), first at start;
    switched off (TODOKU_DASHBOARD_REFRESH_SECONDS=0) there is no job."""
    from bot.admin.snapshot import JOB_ID, scheduler_jobs, tick

    scheduler = build_scheduler(wiring, scheduler_jobs(wiring))
    assert {job.id for job in scheduler.get_jobs()} == {"purge", "reload-config", JOB_ID}
    job = scheduler.get_job(JOB_ID)
    assert job.func is tick and job.args == (wiring,)
    assert job.trigger.interval == timedelta(seconds=5) and job.executor == "default"
    assert job.max_instances == 1 and job.coalesce
    off = wiring.settings.model_copy(update={"dashboard_refresh_seconds": 0})
    assert scheduler_jobs(dataclasses.replace(wiring, settings=off)) == []
