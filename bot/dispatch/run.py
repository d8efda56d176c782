"""The dispatcher: one campaign slot → one run → deliveries recorded → multicasts sent.

Nothing twice, nothing lost:
* the run is claimed by a unique (campaign, slot) row, so a slot runs once however many
  schedulers or staff commands fire it;
* deliveries and each batch's X-Line-Retry-Key are committed before the HTTP call, and
  retries reuse the key, so LINE answers 409 instead of sending twice;
* a restart resumes from rows alone (`resume_unfinished`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from linebot.v3.messaging import Message

from bot.clicks import notice_links
from bot.dispatch import outbox
from bot.dispatch.send import Dispatcher, Outcome, Sender, SendPolicy
from bot.dispatch.window import to_minute
from bot.errors import MonthlyQuotaReached, UnknownCampaign
from bot.logs import get_logger
from bot.store.models import BatchStatus
from bot.wiring import Wiring
from messages import build_notice

log = get_logger("todoku.dispatch")


@dataclass
class RunSummary:
    """What one call of run_slot did: the run, whether this call ran it, counts per status."""

    run_id: int | None
    campaign_id: str
    slot_at: dt.datetime
    status: str
    claimed: bool
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Delivering:
    """One pass of sending: the wiring, the process's dispatcher, each run's notice per day."""

    wiring: Wiring
    dispatcher: Dispatcher
    notices: dict[tuple[int, dt.date], list[Message] | None] = field(default_factory=dict)

    @classmethod
    def of(
        cls, wiring: Wiring, sender: Sender | None = None, policy: SendPolicy | None = None
    ) -> Delivering:
        """The wiring's dispatcher (its rate gate shared process-wide), optionally varied."""
        return cls(wiring, wiring.dispatcher.using(sender, policy))


def campaign_of(config, campaign_id: str):
    """The campaign, or UnknownCampaign listing the valid ids."""
    campaign = config.find_campaign(campaign_id)
    if campaign is None:
        raise UnknownCampaign(campaign_id, sorted(c.id for c in config.campaigns))
    return campaign


def run_slot(
    wiring,
    campaign_id: str,
    slot_at: dt.datetime,
    *,
    sender: Sender | None = None,
    policy: SendPolicy | None = None,
) -> RunSummary:
    """Run one slot of a campaign: claim, record, send; a second call does nothing."""
    config, now = wiring.config, wiring.clock.now()
    campaign = campaign_of(config, campaign_id)
    slot_at = to_minute(slot_at)
    planned = {p.at: p.is_reminder for p in config.planned_slots(campaign)}
    reminder = planned.get(slot_at, False)  # a manual send (todoku send) is not a reminder
    factory = wiring.session_factory
    run_id = outbox.claim_run(factory, campaign.id, campaign.program, slot_at, reminder, now)
    if run_id is None:
        existing = outbox.find_run(factory, campaign.id, slot_at)
        log.info("slot_already_claimed", run_id=existing, campaign_id=campaign.id)
        return summarize(wiring, existing, campaign.id, slot_at, claimed=False)
    log.info("run_claimed", run_id=run_id, campaign_id=campaign.id, reminder=reminder)
    program = config.program(campaign.program)
    if not program.is_open(now.date()):
        # Late after downtime, or fired by hand after the deadline: say so, send nothing.
        reason = (
            f"program {program.id} closed on {program.period.closes} "
            f"(slot due {slot_at:%Y-%m-%d %H:%M}, run at {now:%Y-%m-%d %H:%M})"
        )
        outbox.expire_run(factory, run_id, reason, now)
        return summarize(wiring, run_id, campaign.id, slot_at, claimed=True)
    record_and_send(wiring, outbox.get_run(factory, run_id), Delivering.of(wiring, sender, policy))
    return summarize(wiring, run_id, campaign.id, slot_at, claimed=True)


def record_and_send(wiring, run, delivering: Delivering) -> None:
    """Record a claimed run's deliveries (unless someone else did), then send them."""
    now = wiring.clock.now()
    if outbox.record_run(wiring.session_factory, wiring.config, run, now):
        log.info(
            "run_recorded", run_id=run.id, counts=outbox.counts(wiring.session_factory, run.id)
        )
        send_pending(delivering, run.id)


def send_pending(delivering: Delivering, run_id: int) -> str:
    """Send every pending delivery of a run in recorded batches; returns the run's status."""
    wiring = delivering.wiring
    factory = wiring.session_factory
    outbox.skip_orphans(factory, run_id)  # once per pass: it reads every pending row
    after = 0
    while batch := outbox.form_batch(factory, run_id, wiring.clock.now(), after):
        after = batch.last_id
        outcome = send_batch(delivering, batch)
        if isinstance(outcome.error, MonthlyQuotaReached):
            # Every further request would fail the same way until the month ends: stop.
            reason = "not sent: LINE's monthly message quota is used up"
            outbox.fail_pending(factory, run_id, reason)
            return outbox.finish_run(factory, run_id, wiring.clock.now(), stopped=reason)
        if outcome.unconfirmed:
            break  # LINE keeps failing: leave the rest for the next pass (scheduler tick)
    return outbox.finish_run(factory, run_id, wiring.clock.now())


def send_batch(delivering: Delivering, batch: outbox.Batch) -> Outcome:
    """Send one recorded batch with its stored key and settle it; returns the outcome."""
    wiring = delivering.wiring
    day = batch.created_at.date()
    if (batch.run_id, day) not in delivering.notices:
        delivering.notices[batch.run_id, day] = notice_for(wiring, batch.run_id, day)
    messages = delivering.notices[batch.run_id, day]
    if messages is None:
        outbox.settle_batch(
            wiring.session_factory,
            batch.key,
            BatchStatus.SKIPPED,
            wiring.clock.now(),
            attempts=0,
            error="campaign or program removed from the configuration",
        )
        return Outcome(0)
    outcome = delivering.dispatcher.multicast(batch.user_ids, messages, batch.key)
    now, factory = wiring.clock.now(), wiring.session_factory
    if outcome.request_id is not None:
        outbox.settle_batch(
            factory,
            batch.key,
            BatchStatus.SENT,
            now,
            attempts=outcome.attempts,
            request_id=outcome.request_id,
        )
    elif outcome.unconfirmed:
        outbox.note_attempts(factory, batch.key, outcome.attempts, str(outcome.error))
    else:
        outbox.settle_batch(
            factory,
            batch.key,
            BatchStatus.FAILED,
            now,
            attempts=outcome.attempts,
            error=str(outcome.error)[:500],
        )
    log.info(
        "batch_settled",
        run_id=batch.run_id,
        batch_key=batch.key,
        size=len(batch.user_ids),
        attempts=outcome.attempts,
        request_id=outcome.request_id,
        error=type(outcome.error).__name__ if outcome.error else None,
    )
    return outcome


def notice_for(wiring, run_id: int, day: dt.date) -> list[Message] | None:
    """The run's notice as sent on `day` (the batch's day: the same on every retry of it)."""
    config = wiring.config
    run = outbox.get_run(wiring.session_factory, run_id)
    campaign = config.find_campaign(run.campaign_id)
    program = campaign and config.find_program(campaign.program)
    if program is None:
        return None
    links = notice_links(wiring.settings, program, run_id, campaign.id)
    return [build_notice(program, campaign.lead, links, day)]


def summarize(
    wiring, run_id: int | None, campaign_id: str, slot_at: dt.datetime, *, claimed: bool
) -> RunSummary:
    """The run's status, reason and counts per delivery status."""
    run = outbox.get_run(wiring.session_factory, run_id) if run_id is not None else None
    counts = outbox.counts(wiring.session_factory, run_id) if run_id is not None else {}
    return RunSummary(
        run_id,
        campaign_id,
        slot_at,
        run.status if run else "unknown",
        claimed,
        run.reason if run else None,
        counts,
    )
