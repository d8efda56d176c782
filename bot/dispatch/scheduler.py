"""The clock process (`todoku scheduler`): a BlockingScheduler whose jobs take the wiring.

Housekeeping (purge, config reload) and the dispatcher's clock: one DateTrigger job per
coming send slot, a tick every 15 minutes for deferred notices and unconfirmed batches,
a catch-up pass every minute (bot.dispatch.catchup), and at start the resumption of
whatever a crash left unfinished. Other packages add periodic jobs of their own through
`Periodic` (the dashboard's snapshot, bot.admin.snapshot: `todoku scheduler` passes it),
so this package never imports them.

Exactly one scheduler is active per deployment: it holds the SchedulerLease row and
renews it every 20 s; others stand by and take over when the lease expires (60 s). The
scheduler is only a clock: a slot's unique run row, not the lease, is what makes a slot
run once (line-platform.md pitfall 4).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Sequence

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.clock import TOKYO, Periodic
from bot.dispatch import outbox
from bot.dispatch import run as dispatch
from bot.dispatch.catchup import catch_up
from bot.dispatch.resume import resume_unfinished, retry_unconfirmed, send_deferred
from bot.dispatch.window import inside
from bot.errors import TodokuError
from bot.logs import get_logger
from bot.residents.purge import forget_webhook_claims, purge
from bot.store import queries
from bot.store.engine import transaction
from bot.store.models import SchedulerLease
from bot.wiring import Wiring

log = get_logger("todoku.scheduler")

LEASE_NAME = "scheduler"
LEASE_TTL = dt.timedelta(seconds=60)
RENEW_EVERY = 20  # seconds: three renewals fit in one lease, so one slow renewal is harmless
STANDBY_POLL = 10  # seconds between a standby's attempts to take the lease
TICK_MINUTES = 15
CATCHUP_MINUTES = 1  # registrants in the same minute share a multicast
# A slot job delayed past this (the process was busy or suspended) is dropped by APScheduler;
# the tick then runs it as a missed slot, and run_slot itself expires it if its program
# closed meanwhile. So the grace only bounds how late APScheduler itself may start it.
MISFIRE_GRACE = 3600
# The tick leaves a just-due slot to its own DateTrigger job for this long.
MISSED_MARGIN = dt.timedelta(minutes=5)


class Lease:
    """The SchedulerLease row: who the active scheduler is, until when."""

    def __init__(self, factory, owner: str, ttl: dt.timedelta = LEASE_TTL) -> None:
        self.factory, self.owner, self.ttl = factory, owner, ttl

    def acquire(self, now: dt.datetime) -> bool:
        """Take or renew the lease if it is ours, free or expired; True if we hold it now."""
        with transaction(self.factory) as session:
            taken = session.execute(queries.take_lease(LEASE_NAME, self.owner, now, now + self.ttl))
        if taken.rowcount == 1:
            return True
        try:  # no row yet: the primary key lets exactly one first taker in
            with transaction(self.factory) as session:
                session.add(
                    SchedulerLease(name=LEASE_NAME, owner=self.owner, expires_at=now + self.ttl)
                )
        except IntegrityError:
            return False
        return True

    def release(self) -> None:
        """Give the lease up (clean shutdown), so a standby takes over at once."""
        with transaction(self.factory) as session:
            session.execute(queries.release_lease(LEASE_NAME, self.owner))


def purge_job(wiring) -> int:
    """Purge residents past the unfollow retention time (returns how many), then forget
    old webhook claims."""
    count = purge(
        wiring.session_factory, wiring.clock.now(), wiring.settings.unfollow_retention_days
    )
    claims = forget_webhook_claims(wiring.session_factory)
    log.info("purge_done", purged=count, webhook_claims_forgotten=claims)
    return count


def reload_config_job(wiring, scheduler=None) -> None:
    """Pick up edited configuration files (a broken edit keeps the last valid config)."""
    if wiring.config_holder.reload_if_changed() and scheduler is not None:
        add_slot_jobs(scheduler, wiring)


def build_scheduler(wiring, periodic: Sequence[Periodic] = ()) -> BlockingScheduler:
    """A scheduler with the housekeeping jobs; misfires within an hour still run once."""
    # Dispatch work runs on its own single thread, one job after another; housekeeping and
    # the lease renewal must not wait behind a long send.
    executors = {"default": ThreadPoolExecutor(4), "dispatch": ThreadPoolExecutor(1)}
    scheduler = BlockingScheduler(timezone=TOKYO, executors=executors)
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    scheduler.add_job(
        purge_job,
        CronTrigger(hour=3, minute=30, timezone=TOKYO),
        args=[wiring],
        id="purge",
        **common,
    )
    scheduler.add_job(
        reload_config_job, IntervalTrigger(seconds=60), args=[wiring], id="reload-config", **common
    )
    for job in periodic:
        # On the housekeeping threads: a long send never delays it, nor it a send. Late
        # runs (a suspended process) are coalesced into one, run whenever it wakes.
        scheduler.add_job(
            job.func,
            IntervalTrigger(seconds=job.seconds),
            args=[wiring],
            id=job.id,
            next_run_time=wiring.clock.now(),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    return scheduler


def run_slot_job(wiring: Wiring, campaign_id: str, slot_at_iso: str) -> None:
    """Fire one send slot (a DateTrigger job); the run's unique key makes a repeat harmless."""
    try:
        summary = dispatch.run_slot(wiring, campaign_id, dt.datetime.fromisoformat(slot_at_iso))
    except TodokuError as exc:  # e.g. the campaign left the configuration
        log.warning("slot_not_run", campaign_id=campaign_id, slot_at=slot_at_iso, error=str(exc))
        return
    log.info("slot_done", run_id=summary.run_id, status=summary.status, counts=summary.counts)


def add_slot_jobs(scheduler, wiring) -> list[str]:
    """(Re)create one DateTrigger job per coming slot of every campaign; returns their ids."""
    for job in scheduler.get_jobs():
        if job.id.startswith("slot:"):
            job.remove()
    now = wiring.clock.now()
    ids = []
    for campaign in wiring.config.campaigns:
        for at in wiring.config.slot_times(campaign):
            if at <= now:
                continue
            job_id = f"slot:{campaign.id}:{at.isoformat()}"
            scheduler.add_job(
                run_slot_job,
                DateTrigger(run_date=at),
                id=job_id,
                args=[wiring, campaign.id, at.isoformat()],
                executor="dispatch",
                coalesce=True,
                misfire_grace_time=MISFIRE_GRACE,
                replace_existing=True,
            )
            ids.append(job_id)
    return ids


def catch_up_missed(wiring, margin: dt.timedelta = dt.timedelta(0)) -> list[int | None]:
    """Slots that passed without a run: the latest of each campaign runs, earlier ones expire."""
    now = wiring.clock.now()
    if not inside(wiring.config.delivery.window, now):
        return []  # the first tick inside the window catches up
    ran = []
    for campaign in wiring.config.campaigns:
        missed = _missed(wiring, campaign, now - margin)
        for at in missed[:-1]:
            # Coalesced, like APScheduler's coalesce=True: one notice, not a burst of them.
            _expire_slot(wiring, campaign, at, f"missed while down; superseded by {missed[-1]}")
        if missed:
            ran.append(dispatch.run_slot(wiring, campaign.id, missed[-1]).run_id)
    return ran


def _missed(wiring, campaign, until: dt.datetime) -> list[dt.datetime]:
    with wiring.session_factory() as session:
        done = set(session.scalars(queries.run_slots_of(campaign.id)))
    return [at for at in wiring.config.slot_times(campaign) if at <= until and at not in done]


def _expire_slot(wiring, campaign, at: dt.datetime, reason: str) -> None:
    now = wiring.clock.now()
    planned = {p.at: p.is_reminder for p in wiring.config.planned_slots(campaign)}
    run_id = outbox.claim_run(
        wiring.session_factory, campaign.id, campaign.program, at, planned.get(at, False), now
    )
    if run_id is not None:
        outbox.expire_run(wiring.session_factory, run_id, reason, now)


def startup_job(wiring: Wiring) -> None:
    """After taking the lease: finish what a crash left, then run missed slots."""
    resume_unfinished(wiring)
    catch_up_missed(wiring)


def tick_job(wiring: Wiring) -> None:
    """Every 15 minutes inside the window: missed slots, unconfirmed batches, deferred notices."""
    if not inside(wiring.config.delivery.window, wiring.clock.now()):
        return
    catch_up_missed(wiring, MISSED_MARGIN)
    retry_unconfirmed(dispatch.Delivering.of(wiring))
    send_deferred(wiring)


def catchup_job(wiring: Wiring) -> None:
    """Every minute: notices for residents who became eligible after their campaign's slot."""
    summary = catch_up(wiring)
    if summary.marks:
        log.info("catchup_done", marks=summary.marks, recorded=summary.recorded)


def renew_lease_job(wiring: Wiring, lease: Lease, scheduler) -> None:
    """Keep the lease; if another process holds it now, stop this scheduler (standby again)."""
    try:
        held = lease.acquire(wiring.clock.now())
    except OperationalError as exc:  # e.g. SQLite busy: the lease is ours for 40 s more
        log.warning("lease_renewal_failed", error=type(exc).__name__)
        return
    if not held:
        log.warning("lease_lost", owner=lease.owner)
        scheduler.shutdown(wait=False)


def add_dispatch_jobs(scheduler, wiring, lease: Lease) -> None:
    """The dispatcher's jobs: lease renewal, start-up resumption, slots, tick, re-plan."""
    common = {"coalesce": True, "max_instances": 1}
    scheduler.add_job(
        renew_lease_job,
        IntervalTrigger(seconds=RENEW_EVERY),
        id="lease",
        args=[wiring, lease, scheduler],
        misfire_grace_time=RENEW_EVERY,
        **common,
    )
    scheduler.add_job(
        startup_job,
        DateTrigger(run_date=wiring.clock.now()),
        args=[wiring],
        id="startup",
        executor="dispatch",
        misfire_grace_time=None,
        **common,
    )
    scheduler.add_job(
        tick_job,
        IntervalTrigger(minutes=TICK_MINUTES),
        args=[wiring],
        id="dispatch-tick",
        executor="dispatch",
        misfire_grace_time=TICK_MINUTES * 60,
        **common,
    )
    scheduler.add_job(
        catchup_job,
        IntervalTrigger(minutes=CATCHUP_MINUTES),
        args=[wiring],
        id="catchup",
        executor="dispatch",
        misfire_grace_time=CATCHUP_MINUTES * 60,
        **common,
    )
    scheduler.modify_job("reload-config", args=[wiring, scheduler])
    add_slot_jobs(scheduler, wiring)


def wait_for_lease(wiring, lease: Lease, poll: float = STANDBY_POLL) -> None:
    """Stand by until this process holds the lease."""
    while not lease.acquire(wiring.clock.now()):
        time.sleep(poll)


def run_scheduler(wiring, *, owner: str | None = None, periodic: Sequence[Periodic] = ()) -> None:
    """Stand by for the lease, then follow the clock; after losing it, stand by again.

    `periodic`: other packages' jobs, run only while this process is the active scheduler.
    """
    lease = Lease(
        wiring.session_factory,
        owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
    )
    try:
        while True:
            log.info("scheduler_standby", owner=lease.owner)
            wait_for_lease(wiring, lease)
            purge_job(wiring)
            scheduler = build_scheduler(wiring, periodic)
            add_dispatch_jobs(scheduler, wiring, lease)
            log.info("scheduler_active", owner=lease.owner, jobs=len(scheduler.get_jobs()))
            scheduler.start()  # returns when renew_lease_job found the lease taken
    except (KeyboardInterrupt, SystemExit):
        lease.release()
        log.info("scheduler_stopped")
