"""After a crash, and on every scheduler tick: finish what the rows say is unfinished.

* runs claimed but never recorded are recorded (or expire if their program closed);
* batches recorded but not confirmed are sent again with THEIR stored retry key while
  LINE still remembers it, and become `unknown` when it may not;
* pending deliveries are batched and sent; deferred ones whose day came are re-checked.
"""

from __future__ import annotations

import datetime as dt

from bot.dispatch import outbox
from bot.dispatch.run import Delivering, InFlight, record_and_send, send_pending
from bot.dispatch.send import Sender, SendPolicy
from bot.dispatch.window import WEEK
from bot.logs import get_logger
from bot.store import queries as audience
from bot.store.engine import transaction
from bot.store.models import BatchStatus, RunStatus

log = get_logger("todoku.dispatch")

# LINE remembers an accepted X-Line-Retry-Key for 24 hours; after that the same key is a
# new request and would send again (line-platform.md §2.6, pitfall 7). We stop an hour
# short, for clock skew and a slow last attempt. Past it the outcome is unknowable and the
# batch is marked `unknown`, not resent: a duplicate notice is worse than a missed one
# (residents block accounts that repeat themselves; a miss is caught by the next reminder).
KEY_LIFETIME = dt.timedelta(hours=23)
UNKNOWN_REASON = "unconfirmed and its retry key is older than 23 h (LINE keeps keys 24 h)"


def resume_unfinished(
    wiring, *, sender: Sender | None = None, policy: SendPolicy | None = None
) -> dict[str, int]:
    """Finish interrupted runs from their rows alone; returns what was done, counted."""
    delivering = Delivering.of(wiring, sender, policy)
    done = {"recorded": 0, "expired": 0}
    for run in outbox.runs_in(wiring.session_factory, RunStatus.RUNNING):
        if expire_if_closed(wiring, run):
            done["expired"] += 1
            continue
        record_and_send(wiring, run, delivering)
        done["recorded"] += 1
    done.update(retry_unconfirmed(delivering))
    done["runs_sent"] = finish_sending(delivering)
    log.info("resume_done", **done)
    return done


def _closed(wiring, run) -> bool:
    campaign = wiring.config.find_campaign(run.campaign_id)
    program = campaign and wiring.config.find_program(campaign.program)
    return program is None or not program.is_open(wiring.clock.now().date())


def expire_if_closed(wiring, run) -> bool:
    """Expire a claimed, unrecorded run whose program closed or left the configuration."""
    if not _closed(wiring, run):
        return False
    reason = f"program {run.program_id} closed or removed before the run could be recorded"
    outbox.expire_run(wiring.session_factory, run.id, reason, wiring.clock.now())
    return True


def retry_unconfirmed(delivering: Delivering) -> dict[str, int]:
    """Resend unconfirmed batches with their stored keys; too old → `unknown`."""
    wiring = delivering.wiring
    now = wiring.clock.now()
    resent = unknown = 0
    flight = InFlight(delivering)  # resent concurrently, like a run's batches
    for batch in outbox.unconfirmed_batches(wiring.session_factory):
        if now - batch.created_at >= KEY_LIFETIME:
            outbox.settle_batch(
                wiring.session_factory,
                batch.key,
                BatchStatus.UNKNOWN,
                now,
                attempts=0,
                error=UNKNOWN_REASON,
            )
            log.warning("batch_unknown", run_id=batch.run_id, batch_key=batch.key)
            unknown += 1
            continue
        if flight.full():
            flight.settle(block=True)
        flight.submit(outbox.load_batch(wiring.session_factory, batch))
        resent += 1
    flight.drain()
    return {"batches_resent": resent, "batches_unknown": unknown}


def finish_sending(delivering: Delivering) -> int:
    """Batch and send the pending deliveries of every run still sending; how many runs."""
    runs = outbox.runs_in(delivering.wiring.session_factory, RunStatus.SENDING)
    for run in runs:
        send_pending(delivering, run.id)
    return len(runs)


def send_deferred(wiring, *, sender: Sender | None = None, policy: SendPolicy | None = None) -> int:
    """Send the deferred notices whose day came (re-checked first); how many were released."""
    now = wiring.clock.now()
    config = wiring.config
    open_programs = [p.id for p in config.programs if p.is_open(now.date())]
    limit = config.delivery.max_per_week
    with transaction(wiring.session_factory) as session:
        # The re-check counts the week's notices as a recording does, not at once with one.
        audience.lock_weekly_cap(session.connection())
        for reason, statement in audience.skip_due_deferred(now, open_programs):
            skipped = session.execute(statement).rowcount
            if skipped:
                log.info("deferred_skipped", reason=reason, count=skipped)
        still_over = session.execute(audience.due_deferred_over_cap(now, now - WEEK, limit))
        outbox.redate(session, config, still_over.all(), now)
        released = session.execute(audience.release_due_deferred(now)).rowcount
        # Released rows go into their runs' batches; a finished run is sending again.
        session.execute(audience.reopen_runs_with_pending())
    if released:
        log.info("deferred_released", count=released)
    finish_sending(Delivering.of(wiring, sender, policy))
    return released
