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
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from bot.dispatch import outbox
from bot.dispatch.send import Dispatcher, Message, Outcome, Sender, SendPolicy
from bot.dispatch.variant import JAPANESE, Variant
from bot.dispatch.window import to_minute
from bot.errors import MonthlyQuotaReached, UnknownCampaign
from bot.logs import get_logger
from bot.store.models import BatchStatus
from bot.wiring import Wiring
from messages import city_of, known, localized_lead, notice_object

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
    """One pass of sending: the wiring, the process's dispatcher, each run's notice per day
    and message variant (language)."""

    wiring: Wiring
    dispatcher: Dispatcher
    notices: dict[tuple[int, dt.date, Variant, outbox.Whose], list[Message] | None] = field(
        default_factory=dict
    )

    @classmethod
    def of(
        cls, wiring: Wiring, sender: Sender | None = None, policy: SendPolicy | None = None
    ) -> Delivering:
        """The wiring's dispatcher (its rate gate shared process-wide), optionally varied."""
        return cls(wiring, wiring.dispatcher.using(sender, policy))

    def messages_for(self, batch: outbox.Batch) -> list[Message] | None:
        """The batch's notice as of its day in its variant (the same on every retry); None
        if unsendable."""
        day = batch.created_at.date()
        key = (batch.run_id, day, batch.variant, batch.whose)
        if key not in self.notices:
            self.notices[key] = notice_for(
                self.wiring, batch.run_id, day, batch.variant, batch.whose
            )
        return self.notices[key]


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
    delivering = Delivering.of(wiring, sender, policy)
    counts = record_and_send(wiring, outbox.get_run(factory, run_id), delivering)
    return summarize(wiring, run_id, campaign.id, slot_at, claimed=True, counts=counts)


def record_and_send(wiring, run, delivering: Delivering) -> dict[str, int] | None:
    """Record a claimed run's deliveries (unless someone else does) while sending them;
    the run's counts per delivery status when this call sent it."""
    recording = outbox.Recording(wiring.session_factory, wiring.config, run)
    try:
        if not recording.next_chunk(wiring.clock.now()):
            return None  # recorded, expired or being recorded by someone else
        return send_pending(delivering, run.id, recording)[1]
    finally:
        recording.close()  # on any error too: no chunk left writing, no lock left held


def send_pending(
    delivering: Delivering, run_id: int, recording: outbox.Recording | None = None
) -> tuple[str, dict[str, int]]:
    """Send a run's batches: those `recording` records chunk by chunk (for a run being
    recorded, each chunk's rows already in their batches) and those formed here from its
    pending rows (family profiles, released deferred notices); returns the run's status
    and its counts per delivery status.

    Every batch's key is committed before it is handed to the dispatcher's threads, which
    send up to its concurrency at once; meanwhile this thread settles the answers and
    records the next chunk.
    """
    wiring = delivering.wiring
    factory = wiring.session_factory
    outbox.skip_orphans(factory, run_id)  # once per pass: it reads every pending row
    flight = InFlight(delivering)
    ready = deque(recording.formed if recording is not None else [])
    after, stop = 0, None
    # Whether pending rows may be waiting to be batched here: always without a recording;
    # with one, until a look finds none, then again after a chunk that left some (a chunk
    # of holders alone leaves none: no query per chunk for nothing).
    look = True
    while stop is None:
        if flight.full():
            stop = flight.settle(block=True)
            continue
        if ready:
            for _ in range(min(len(ready), flight.room())):
                flight.submit(ready.popleft())
            stop = flight.settle(block=False)
            continue
        batches = []
        if look:
            now = wiring.clock.now()
            batches = outbox.form_batches(factory, run_id, now, after, flight.room())
            look = bool(batches) or recording is None
        if batches:
            after = batches[-1].last_id
            for batch in batches:
                flight.submit(batch)
            stop = flight.settle(block=False)
        elif recording is not None and recording.next_chunk(wiring.clock.now()):
            ready.extend(recording.formed)
            look = recording.left_pending
            stop = flight.settle(block=False)
        elif flight.empty():
            break
        else:
            stop = flight.settle(block=True)
    if isinstance(stop, MonthlyQuotaReached):
        # Every further request would fail the same way until the month ends: stop.
        reason = "not sent: LINE's monthly message quota is used up"
        flight.cancel(reason)
        flight.fail(list(ready), reason)
        flight.drain()
        outbox.fail_pending(factory, run_id, reason)
        return outbox.finish_run(factory, run_id, wiring.clock.now(), stopped=reason)
    flight.drain()  # LINE keeps failing (or all sent): what is in flight lands first
    # Batches formed but not handed out, and the rest of the recording (its batches
    # formed too), stay pending with their keys: the next pass (scheduler tick) resends
    # them (bot.dispatch.resume.retry_unconfirmed).
    while recording is not None and recording.next_chunk(wiring.clock.now()):
        pass
    return outbox.finish_run(factory, run_id, wiring.clock.now())


class InFlight:
    """The batches formed and handed to the dispatcher's threads, not yet settled."""

    def __init__(self, delivering: Delivering) -> None:
        self.delivering = delivering
        self.batches: dict[Future, outbox.Batch] = {}
        # Formed ahead of the threads: they keep sending while this thread records a chunk.
        self.limit = 3 * delivering.dispatcher.policy.concurrency
        # PostgreSQL: answers are recorded on a thread (and server process) of their own,
        # while this thread records the next chunk — settling a sent batch rewrites its 500
        # rows, as much work for the server as recording them (docs/benchmarks.md). SQLite
        # has one writer: there a second thread would only wait for the lock, so this one
        # settles. Either way an answer is recorded after its request: a process that dies
        # before leaves the batch pending, resent later under its stored key (409 = sent).
        concurrent = delivering.wiring.engine.dialect.name != "sqlite"
        self._settler = ThreadPoolExecutor(1, "todoku-settle") if concurrent else None
        self._settling: deque[Future] = deque()

    def full(self) -> bool:
        return len(self.batches) >= self.limit

    def empty(self) -> bool:
        return not self.batches

    def room(self) -> int:
        """How many batches to form next (one transaction): a few, to start sending soon."""
        return max(1, min(8, self.limit - len(self.batches)))

    def submit(self, batch: outbox.Batch) -> None:
        """Send a batch whose key is committed; settled later by `settle`."""
        messages = self.delivering.messages_for(batch)
        if messages is None:
            settle_outcomes(self.delivering, [(batch, None)])
            return
        self.batches[self.delivering.dispatcher.submit(batch.user_ids, messages, batch.key)] = batch

    def settle(self, *, block: bool) -> Exception | None:
        """Settle the answers that came back (waiting for one if `block`); why to stop, if so."""
        done, _ = wait(self.batches, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        if not done:
            return None
        # A BaseException in a sender (tests: the process "dies") propagates from here.
        try:
            answered = [(self.batches.pop(f), f.result()) for f in done]
        except BaseException:
            self._stop_settling()
            raise
        self._record(answered)
        for _, outcome in answered:
            if isinstance(outcome.error, MonthlyQuotaReached) or outcome.unconfirmed:
                return outcome.error
        return None

    def cancel(self, reason: str) -> None:
        """Settle as failed the batches no thread has started: never sent, never will be."""
        self.fail([self.batches.pop(f) for f in list(self.batches) if f.cancel()], reason)

    def fail(self, batches: list[outbox.Batch], reason: str) -> None:
        """Settle as failed batches never handed to a thread (the monthly quota is used up)."""
        if batches:
            error = MonthlyQuotaReached(reason)
            settle_outcomes(self.delivering, [(b, Outcome(0, error=error)) for b in batches])

    def drain(self) -> None:
        """Wait for every batch in flight and settle it; return when all are recorded."""
        while self.batches:
            self.settle(block=True)
        while self._settling:
            self._settling.popleft().result()  # a failed settle raises here
        if self._settler is not None:
            self._settler.shutdown()

    def _stop_settling(self) -> None:
        """The process is going down: settle nothing more (as after kill -9, an answer
        not recorded yet is not; its batch stays pending and is resent under its key)."""
        if self._settler is not None:
            self._settler.shutdown(wait=True, cancel_futures=True)

    def _record(self, answered: list[tuple[outbox.Batch, Outcome]]) -> None:
        if self._settler is None:
            settle_outcomes(self.delivering, answered)
            return
        self._settling.append(self._settler.submit(settle_outcomes, self.delivering, answered))
        while self._settling and self._settling[0].done():
            self._settling.popleft().result()  # a failed settle raises here


def settle_outcomes(
    delivering: Delivering, answered: list[tuple[outbox.Batch, Outcome | None]]
) -> None:
    """Record what became of answered batches, in one transaction (None: nothing to send)."""
    wiring = delivering.wiring
    settled, unconfirmed = [], []
    for batch, outcome in answered:
        if outcome is None:
            error = "campaign or program removed from the configuration"
            settled.append((batch.key, BatchStatus.SKIPPED, {"error": error}))
            continue
        if outcome.request_id is not None:
            values = {"attempts": outcome.attempts, "request_id": outcome.request_id}
            settled.append((batch.key, BatchStatus.SENT, values))
        elif outcome.unconfirmed:
            unconfirmed.append((batch.key, outcome))
        else:
            values = {"attempts": outcome.attempts, "error": str(outcome.error)[:500]}
            settled.append((batch.key, BatchStatus.FAILED, values))
        log.info(
            "batch_settled",
            run_id=batch.run_id,
            batch_key=batch.key,
            size=len(batch.user_ids),
            attempts=outcome.attempts,
            request_id=outcome.request_id,
            error=type(outcome.error).__name__ if outcome.error else None,
        )
    if settled:
        outbox.settle_batches(wiring.session_factory, settled, wiring.clock.now())
    for key, outcome in unconfirmed:
        outbox.note_attempts(wiring.session_factory, key, outcome.attempts, str(outcome.error))


def send_batch(delivering: Delivering, batch: outbox.Batch) -> Outcome:
    """Send one recorded batch with its stored key (on this thread) and settle it."""
    messages = delivering.messages_for(batch)
    if messages is None:
        settle_outcomes(delivering, [(batch, None)])
        return Outcome(0)
    outcome = delivering.dispatcher.multicast(batch.user_ids, messages, batch.key)
    settle_outcomes(delivering, [(batch, outcome)])
    return outcome


def notice_for(
    wiring, run_id: int, day: dt.date, variant: Variant = JAPANESE, whose: outbox.Whose = ()
) -> list[Message] | None:
    """The run's notice as sent on `day` (the batch's day: the same on every retry of it),
    in the batch's variant (its recipients' language), naming whose notice it is when it is
    (also) for family profiles (`whose`)."""
    from bot.links import notice_links

    config = wiring.config
    run = outbox.get_run(wiring.session_factory, run_id)
    campaign = config.find_campaign(run.campaign_id)
    program = campaign and config.find_program(campaign.program)
    if program is None:
        return None
    links = notice_links(wiring.settings, program, run_id, campaign.id)
    lang = known(variant.language)
    lead = localized_lead(campaign.lead, campaign.translations, lang)
    city = city_of(config.municipality)
    return [notice_object(program, lead, links, day, city, lang, whose=whose)]


def summarize(
    wiring,
    run_id: int | None,
    campaign_id: str,
    slot_at: dt.datetime,
    *,
    claimed: bool,
    counts: dict[str, int] | None = None,
) -> RunSummary:
    """The run's status, reason and counts per delivery status (`counts`: as this call
    just counted them, closing the run; counting 1,000,000 rows again took 0.7 s)."""
    run = outbox.get_run(wiring.session_factory, run_id) if run_id is not None else None
    if counts is None:
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
