"""Catch-up notices: a resident who becomes eligible after a campaign's slot ran is told once.

The registration dialog marks a resident (a CatchupMark row, in the answer's transaction)
when they finish registering or change an answer. Every minute inside the delivery
window the scheduler runs `catch_up`: in ONE transaction it reads the marks, and for each
open campaign whose slot has run records, with one INSERT ... SELECT, a delivery in the
day's catch-up run (CampaignRun kind "catchup", one per campaign and day) for every
marked resident who now matches and never had a delivery of that campaign — pending, or
deferred under max_per_week like any notice — then deletes the marks it read. The runs
are sent by the slots' own path (`send_pending`: batches with retry keys stored before
the call), so residents marked in the same minute share multicasts, and a crash is
resumed by `resume_unfinished`.

Outside the window nothing happens: the marks wait, and the first pass after the window
opens handles them with the eligibility of that moment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.clock import TOKYO
from bot.dispatch import outbox
from bot.dispatch.run import Delivering, send_pending
from bot.dispatch.send import Sender, SendPolicy
from bot.dispatch.window import WEEK, inside, to_minute
from bot.logs import get_logger
from bot.store import queries as audience
from bot.store.engine import transaction
from bot.store.models import CampaignRun, RunKind, RunStatus

log = get_logger("todoku.dispatch")


@dataclass
class CatchupSummary:
    """What one pass did: marks handled, notices recorded per campaign, runs sent."""

    marks: int = 0
    recorded: dict[str, int] = field(default_factory=dict)
    runs: list[int] = field(default_factory=list)


def catch_up(
    wiring, *, sender: Sender | None = None, policy: SendPolicy | None = None
) -> CatchupSummary:
    """Record and send the catch-up notices of the residents marked since the last pass."""
    now = wiring.clock.now()
    if not inside(wiring.config.delivery.window, now):
        return CatchupSummary()  # the marks wait for the window to open
    summary = record_catchup(wiring, now)
    if summary.runs:
        log.info("catchup_recorded", marks=summary.marks, recorded=summary.recorded)
        delivering = Delivering.of(wiring, sender, policy)
        for run_id in summary.runs:
            send_pending(delivering, run_id)
    return summary


def record_catchup(wiring, now: dt.datetime) -> CatchupSummary:
    """One transaction: every open, announced campaign's catch-up deliveries; marks cleared."""
    config = wiring.config
    summary = CatchupSummary()
    with transaction(wiring.session_factory) as session:
        upto = session.scalar(audience.catchup_marks_upto())
        if upto is None:
            return summary
        conn = session.connection()
        audience.make_room(conn)
        audience.lock_weekly_cap(conn)  # before any campaign's lock, as the recorders
        audience.hold_residents(conn)  # no deletion while the pass names them
        for campaign in config.campaigns:
            program = config.program(campaign.program)
            if not program.is_open(now.date()):
                continue
            audience.lock_campaign(conn, campaign.id)
            if not session.scalar(audience.campaign_announced(campaign.id)):
                continue  # its first slot will reach them
            run_id, recorded = _record_campaign(session, config, campaign, program, upto, now)
            if recorded:
                summary.recorded[campaign.id] = recorded
                summary.runs.append(run_id)
        summary.marks = session.execute(audience.clear_catchup_marks(upto)).rowcount
    return summary


def _record_campaign(
    session: Session, config, campaign, program, upto: int, now: dt.datetime
) -> tuple[int | None, int]:
    """Add the campaign's due residents to today's catch-up run; (run id, how many)."""
    day = dt.datetime.combine(now.date(), dt.time(), TOKYO)
    run = session.scalar(audience.catchup_run_between(campaign.id, day, day + dt.timedelta(days=1)))
    created = run is None
    if created:
        # Born `sending`: a catch-up run is never `running` (claimed, unrecorded), so
        # resume_unfinished never records it as if it were a slot.
        run = CampaignRun(
            campaign_id=campaign.id,
            program_id=program.id,
            slot_at=to_minute(now),  # the day's first catch-up: lists after that day's slots
            kind=RunKind.CATCHUP,
            reminder=False,
            status=RunStatus.SENDING,
            started_at=now,
        )
        session.add(run)
        session.flush()
    who = audience.catchup_audience(
        [program.eligible, campaign.audience], now.date(), program.id, campaign.id, upto
    )
    limit = config.delivery.max_per_week
    record = audience.record_deliveries(
        who, run.id, program.id, now, now - WEEK, limit, outbox.CAP_REASON.format(limit=limit)
    )
    recorded = len(session.execute(audience.returning_ids(record)).all())
    if not recorded:
        if created:
            session.delete(run)  # no empty run rows: most passes find nobody
        return None, 0
    outbox.date_deferred(session, config, run.id, now)
    if not created:  # the day's run may be done already: it is sending again
        session.execute(audience.update_run(run.id, status=RunStatus.SENDING, finished_at=None))
    return run.id, recorded
