"""Webhook events written exactly once, many to a transaction (group commit).

Each event is claimed (its webhookEventId inserted), handled and its reply stored
(bot.registration.outbox) in one transaction: a redelivered (or concurrently delivered)
event finds its id taken and is not handled again.

The request threads of a process hand their events to its `EventWriter`. The thread in
front (the one that found nobody writing) writes every event queued so far — its own and
those that came in while the last batch was written — in one transaction: one statement
claims them all, each is handled in turn on the same session, and one commit makes them
durable. So under load the session, the connection, SQLite's write gate and the commit are
paid once per batch instead of once per event; alone, an event is a batch of one. A thread
whose events were written by the one in front is woken when their batch ends and answers
at once: it does not wait for the front place (and the next batch) to learn that.

If anything in a batch fails (a handler's bug, a collision with a twin in another
process, a deadlock), the whole batch rolls back and each of its threads handles its own
events alone, one transaction each, as before group commit: two events of one resident in
two processes (a follow and the consent tap, a double tap on 削除する) wait for each
other on their resident's lock (PostgreSQL, queries.lock_residents; SQLite has one writer
anyway), and a transaction that still collides with its twin (the row it read was deleted
meanwhile) is run again from the start, up to three times. A real error then fails only
its own webhook (500, so LINE delivers it again).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from linebot.v3.webhooks import Event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from bot.logs import get_logger
from bot.registration import language, outbox
from bot.registration.handlers import (
    Handler,
    HandlerContext,
    handler_for,
    read_ahead,
    record_all,
)
from bot.store import queries
from bot.store.engine import WEB_TIMEOUT
from bot.store.writegate import GateTimeout
from bot.wiring import Wiring

log = get_logger("todoku.webhook")

# A transaction that collides with a concurrent twin is run again at most this many times.
ATTEMPTS = 3
# PostgreSQL: 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
RETRY_SQLSTATES = {"40001", "40P01", "55P03"}
# Events one transaction writes at most; more wait for the next one.
MAX_BATCH = 64

QUEUED, HANDLED, DUPLICATE, ALONE = "queued", "handled", "duplicate", "alone"


@dataclass(eq=False)
class Slot:
    """One event on its way through the writer, and what became of it."""

    event: Event
    handler: Handler
    siblings: list[Slot] | None = None  # the events of the same webhook, in order
    outcome: str = QUEUED
    item: outbox.Pending | None = None
    # Calls to LINE its handler asked for after the commit (HandlerContext.after_commit):
    # used only when it ends HANDLED; handled alone, each attempt starts them afresh.
    actions: list[Callable[[], None]] = field(default_factory=list)
    # Where its thread waits (EventWriter._wait_turn), woken when its batch ends or when
    # it is first in the queue as the front frees.
    waiter: threading.Condition | None = None


@dataclass(eq=False)
class Learning:
    """A new friend's language, asked from LINE by a reply thread, to store in the next
    batch's transaction (EventWriter.learn)."""

    user_id: str
    lang: str
    stored: str | None = None  # what the resident's row holds after it (None: gone)
    outcome: str = QUEUED
    done: threading.Event = field(default_factory=threading.Event)  # outcome is set
    waiter: threading.Condition | None = None  # as Slot.waiter


@dataclass
class Written:
    """A webhook's events written: the replies to send and what to do after the commit."""

    replies: list[outbox.Pending]
    after_commit: list[Callable[[], None]]


class EventWriter:
    """This process's webhook events, written many to a transaction by the thread in front."""

    def __init__(self, wiring: Wiring, sender: outbox.ReplySender, timeout: float) -> None:
        self.wiring = wiring
        self.sender = sender
        self.timeout = timeout
        self._queue: list[Slot] = []
        self._learning: list[Learning] = []
        # Guards the queues and `_writing`. Each waiting thread has a Condition of its own
        # on this lock (Slot.waiter), notified only when its batch ends or when it is next
        # to take the front: one Condition for all woke every waiting thread at each
        # batch's end, and half of them only to wait again (docs/benchmarks.md).
        self._queue_lock = threading.Lock()
        self._writing = False  # a thread is in front, writing batches
        sender.store_language = self.learn  # the reply threads' new friends' languages
        # Set by a thread that writes every batch of the process (bot.web's writer):
        # called when a language waits. A reply thread's language then goes in its next
        # batch and never takes the front: one written between its rounds held the next.
        self.wake_writer: Callable[[], None] | None = None

    def handle(self, events: list[Event]) -> Written:
        """Handle a webhook's events exactly once, in order; their committed replies and
        the calls to LINE to make now that they are committed."""
        (written,) = self.handle_many([events])
        if isinstance(written, BaseException):
            raise written
        return written

    def handle_many(self, webhooks: list[list[Event]]) -> list[Written | Exception]:
        """`handle` for several webhooks at once (bot.web's writer thread takes every
        webhook that came in while it wrote): their events go in the same batches, each
        webhook's in order. What each webhook's events came to, in their order: its
        Written, or the error that failed it (its events handled alone failed)."""
        groups: list[list[Slot]] = []
        for events in webhooks:
            slots = [slot for slot in map(_slot_for, events) if slot is not None]
            for slot in slots:
                slot.siblings = slots
            groups.append(slots)
        everything = [slot for slots in groups for slot in slots]
        if everything:
            self._write(everything)
        results: list[Written | Exception] = []
        for slots in groups:
            written = Written(replies=[], after_commit=[])
            try:
                for slot in slots:
                    item = self._finish(slot)
                    if item is not None:
                        written.replies.append(item)
                    if slot.outcome == HANDLED:
                        written.after_commit.extend(slot.actions)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(written)
        return results

    def languages_waiting(self) -> bool:
        """Whether a reply thread's language waits to be stored (`learn`)."""
        with self._queue_lock:
            return bool(self._learning)

    def write_languages(self) -> None:
        """Store the languages waiting (`learn`) in a batch: a writer thread's round
        without webhooks. When another thread is in front, its next batch takes them."""
        with self._queue_lock:
            if self._writing or not self._learning:
                return
            self._writing = True
        try:
            while self._write_and_wake():
                pass
        finally:
            self._leave_front(None)

    def _write(self, slots: list[Slot]) -> None:
        mine = {id(slot) for slot in slots}

        def withdraw() -> None:  # given up: the events still queued are not written later
            self._queue = [s for s in self._queue if id(s) not in mine]

        deadline = time.monotonic() + self.timeout
        waiter = threading.Condition(self._queue_lock)
        for slot in slots:
            slot.waiter = waiter
        with self._queue_lock:
            self._queue.extend(slots)
            in_front = self._wait_turn(
                waiter, lambda: all(slot.outcome != QUEUED for slot in slots), deadline, withdraw
            )
        if in_front:
            try:
                while any(slot.outcome == QUEUED for slot in slots):
                    if not self._write_and_wake():
                        break
            finally:
                self._leave_front(waiter)
        for slot in slots:
            # A guard: every path above settles them (an interrupted batch hands its events
            # over in _write_and_wake); one left queued would get LINE its 200 unhandled.
            if slot.outcome == QUEUED:
                slot.outcome = ALONE

    def learn(self, user_id: str, lang: str) -> str | None:
        """Store a new friend's language unless one is stored (language.welcome_now) in this
        process's next batch, written by whichever thread is in front — under load no
        transaction of its own, and no second wait for SQLite's writer. Returns the language
        their row then holds (None: gone)."""
        ask = Learning(user_id, lang, waiter=threading.Condition(self._queue_lock))
        deadline = time.monotonic() + self.timeout

        def expired() -> float | None:
            if any(a is ask for a in self._learning):  # never taken: give up
                self._learning = [a for a in self._learning if a is not ask]
                return None
            # Taken: its batch is being written, and ends soon (its writer's statements
            # time out) — unless that thread died.
            later = deadline + self.timeout
            return later if time.monotonic() < later else None

        wake = self.wake_writer
        with self._queue_lock:
            self._learning.append(ask)
        if wake is not None:
            wake()  # outside _queue_lock: the writer takes its own lock, then this one
        with self._queue_lock:
            # Not in line with the request threads' events: the batch being written or the
            # next one takes the ask. Only when nobody writes (and no writer thread is
            # there to be woken) does this thread write.
            in_front = self._wait_turn(
                ask.waiter, ask.done.is_set, deadline, expired, take_front=wake is None
            )
        if in_front:
            try:
                while not ask.done.is_set():
                    self._write_and_wake()
            finally:
                self._leave_front(ask.waiter)
        if ask.outcome == ALONE:  # its batch failed: a transaction of its own
            return language.store_language(self.wiring, user_id, lang)
        return ask.stored

    def _wait_turn(
        self,
        waiter: threading.Condition,
        done: Callable[[], bool],
        deadline: float,
        expired: Callable[[], float | None],
        *,
        take_front: bool = True,
    ) -> bool:
        """With `_queue_lock` held: wait on `waiter` until `done()` (False) or nobody
        writes (True: this thread is now in front; never when not `take_front`). At the
        deadline `expired()` gives a later one, or None: GateTimeout."""
        while not done():
            if take_front and not self._writing:
                self._writing = True
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                later = expired()
                if later is None:
                    raise GateTimeout("webhook writers of this process")
                deadline, remaining = later, later - time.monotonic()
            waiter.wait(remaining)
        return False

    def _write_and_wake(self) -> bool:
        """Write the next batch (`_write_batch`), then wake the threads whose events or
        languages it wrote or gave back; whether there was anything to write. A write
        interrupted by something other than an Exception (a worker's timeout) leaves its
        events to their threads, to handle alone, as a failed batch does."""
        batch: list[Slot] = []
        learned: list[Learning] = []
        try:
            learned = self._write_batch(batch)
        finally:
            if any(slot.outcome == QUEUED for slot in batch):
                self._alone(batch)
            self._batch_ended(batch, learned)
        return bool(batch or learned)

    def _batch_ended(self, batch: list[Slot], learned: list[Learning]) -> None:
        waiters = dict.fromkeys(item.waiter for item in (*batch, *learned))
        with self._queue_lock:
            for waiter in waiters:
                if waiter is not None:
                    waiter.notify()

    def _leave_front(self, own: threading.Condition | None) -> None:
        """Free the front and wake the thread first in the queue to take it (a request
        thread's events first, then a language to store), other than this one (`own`: its
        waiter; its events are still queued when an exception ended its turn)."""
        with self._queue_lock:
            self._writing = False
            for item in itertools.chain(self._queue, self._learning):
                if item.waiter is not own and item.waiter is not None:
                    item.waiter.notify()
                    return

    def _take_batch(self) -> list[Slot]:
        """The next events queued, at most MAX_BATCH (taken off the queue)."""
        with self._queue_lock:
            batch = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
            return batch

    def _take_learning(self) -> list[Learning]:
        """The languages asked so far (taken off their queue)."""
        with self._queue_lock:
            learning, self._learning = self._learning, []
            return learning

    def _write_batch(self, batch: list[Slot]) -> list[Learning]:
        """Take the next events queued (into `batch`) and the languages asked, and write
        them in one transaction (or, when it fails, leave them to be handled alone); the
        languages it took. They are taken once past SQLite's gate: the events that came
        while this thread waited there go in this batch, not the next one."""
        wiring = self.wiring
        session = wiring.session_factory()
        sent: list[str] = []
        learning: list[Learning] = []
        taken = False
        outcomes: dict[int, tuple[str, outbox.Pending | None]] = {}
        try:
            # SQLite: queue for its one writer here, not in its busy handler (writegate).
            with wiring.write_gate.passage(), session.begin():
                batch.extend(self._take_batch())
                sent = self.sender.take_sent()
                learning = self._take_learning()
                taken = True
                # The Core statements go to the session's connection: Session.execute's own
                # machinery (autoflush, events, result wrapping) was half their client CPU.
                conn = session.connection()
                _delete_sent(conn, sent)
                received, received_tick = datetime.now(UTC), time.monotonic()
                claimed = _claim(conn, batch, received) if batch else set()
                _lock_residents(session, batch, learning)
                # Before the handlers: a later event of the same resident reads it.
                stored = [language.learn_in(conn, a.user_id, a.lang) for a in learning]
                activities: list[dict] = []  # HandlerContext.record's, inserted below
                # The claimed events' residents in one query, before the handlers.
                ahead = read_ahead(
                    session, _users(s for s in batch if s.event.webhook_event_id in claimed)
                )
                for index, slot in enumerate(batch):
                    event_id = slot.event.webhook_event_id
                    if event_id not in claimed:
                        outcomes[index] = (DUPLICATE, None)
                        continue
                    claimed.discard(event_id)  # the same id twice in a batch: once
                    context = _context(session, wiring, slot, ahead, activities)
                    replies = slot.handler(context, slot.event)
                    item = outbox.reply_for(slot.event, replies, received, received_tick)
                    outcomes[index] = (HANDLED, item)
                # The handlers' KPI facts and the batch's reply rows: a statement each.
                record_all(session, activities)
                outbox.store_all(
                    conn, wiring.settings, [item for _, item in outcomes.values() if item]
                )
        except Exception as exc:
            if not taken:  # the gate or the transaction's start failed: what waits fails
                batch.extend(self._take_batch())
                learning = self._take_learning()
            self.sender.give_back(sent)  # their deletion was rolled back with the batch
            log.info("webhook_batch_failed", events=len(batch), error=type(exc).__name__)
            self._alone(batch)
            for ask in learning:
                ask.outcome = ALONE
                ask.done.set()
            return learning
        finally:
            session.close()
        for index, slot in enumerate(batch):
            slot.outcome, slot.item = outcomes[index]
        for ask, value in zip(learning, stored, strict=True):
            ask.stored, ask.outcome = value, HANDLED
            ask.done.set()
        return learning

    def _alone(self, batch: list[Slot]) -> None:
        """A failed batch: its events, and the later events of their webhooks still
        queued, are handled by their own threads one at a time (in their order)."""
        owners = {id(slot.siblings) for slot in batch}
        with self._queue_lock:
            taken = [s for s in self._queue if id(s.siblings) in owners]
            self._queue = [s for s in self._queue if id(s.siblings) not in owners]
        for slot in (*batch, *taken):
            slot.outcome = ALONE

    def _finish(self, slot: Slot) -> outbox.Pending | None:
        event = slot.event
        if slot.outcome == ALONE:
            slot.outcome, slot.item = handle_alone(self.wiring, slot, self.sender)
        if slot.outcome == DUPLICATE:
            log.info("webhook_event_duplicate", event_id=event.webhook_event_id)
            # A redelivery: its reply may still be waiting (the first process died).
            return outbox.due_for_event(self.wiring, event.webhook_event_id)
        log.info(
            "webhook_event_handled", event_type=_event_type(event), event_id=event.webhook_event_id
        )
        return slot.item


def _slot_for(event: Event) -> Slot | None:
    # A new friend's follow waits for nothing here: their language is asked from LINE by
    # the reply thread that welcomes them (language.welcome_later).
    handler = handler_for(event)
    if handler is None:
        log.info("webhook_event_ignored", event_type=_event_type(event))
        return None
    return Slot(event=event, handler=handler)


def _context(session, wiring: Wiring, slot: Slot, ahead=None, activities=None) -> HandlerContext:
    return HandlerContext(
        session=session,
        wiring=wiring,
        now=wiring.clock.now(),
        actions=slot.actions,
        read_ahead=ahead,
        activities=activities,
    )


def _users(slots) -> list[str]:
    """The LINE user ids of these events, each once, in order."""
    users = (getattr(slot.event.source, "user_id", None) for slot in slots)
    return list(dict.fromkeys(user for user in users if user))


def _claim(conn, batch: list[Slot], received: datetime) -> set[str]:
    """Claim the batch's events in one statement; the ids nobody had claimed before."""
    dialect = conn.dialect.name
    # In id order: two batches redelivered in two processes wait for each other's claims
    # in one order (each claimed row is locked until its transaction ends).
    rows = sorted(
        (
            {
                "webhook_event_id": slot.event.webhook_event_id,
                "event_type": _event_type(slot.event),
                "received_at": received,
            }
            for slot in batch
        ),
        key=lambda row: row["webhook_event_id"],
    )
    return set(conn.execute(queries.claim_events(dialect), rows).scalars())


def _delete_sent(conn, sent: list[str]) -> None:
    """Delete the rows of replies sent since (ReplySender.take_sent) in this transaction."""
    if sent:
        conn.execute(queries.delete_sent_replies(), {"event_ids": sent})


def _lock_residents(session, slots: list[Slot], learning: list[Learning] = ()) -> None:
    """PostgreSQL: lock the events' residents (and those whose language is stored) in one
    order before any row is touched (see queries.lock_residents), so two transactions never
    deadlock over them."""
    queries.lock_residents(session, {*_users(slots), *(ask.user_id for ask in learning)})


def handle_alone(
    wiring: Wiring, slot: Slot, sender: outbox.ReplySender
) -> tuple[str, outbox.Pending | None]:
    """Handle one event in a transaction of its own, retried after a twin's collision:
    (HANDLED, its reply) or (DUPLICATE, None)."""
    event = slot.event
    for attempt in range(1, ATTEMPTS + 1):
        session = wiring.session_factory()
        sent: list[str] = []
        try:
            # SQLite: queue for its one writer here, not in its busy handler (writegate).
            with wiring.write_gate.passage(), session.begin():
                conn = session.connection()
                received, received_tick = datetime.now(UTC), time.monotonic()
                if event.webhook_event_id not in _claim(conn, [slot], received):
                    return DUPLICATE, None
                _lock_residents(session, [slot])
                sent = sender.take_sent()
                _delete_sent(conn, sent)
                slot.actions.clear()  # an earlier attempt's were rolled back with it
                replies = slot.handler(_context(session, wiring, slot), event)
                item = outbox.store(conn, wiring.settings, event, replies, received, received_tick)
                return HANDLED, item
        except (IntegrityError, StaleDataError, DBAPIError) as exc:
            sender.give_back(sent)
            if attempt == ATTEMPTS or not _collision(exc):
                raise
            # The twin committed first: run again, now seeing its rows.
            log.info(
                "webhook_event_retry", event_id=event.webhook_event_id, error=type(exc).__name__
            )
            time.sleep(random.uniform(0, 0.01 * attempt))
        except BaseException:
            sender.give_back(sent)
            raise
        finally:
            session.close()
    raise AssertionError("unreachable: the last attempt returns or raises")


def _collision(exc: Exception) -> bool:
    """True for errors a concurrent transaction of the same resident causes."""
    if isinstance(exc, IntegrityError | StaleDataError):
        return True
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    return "database is locked" in str(orig)  # SQLite's busy timeout ran out


def _event_type(event: Event) -> str:
    return str(getattr(event, "type", None) or type(event).__name__)


def writer_for(app) -> EventWriter:
    """The app's EventWriter, built on first use."""
    return outbox.app_part(
        app,
        "todoku.events",
        lambda: EventWriter(app.extensions["todoku"], outbox.sender_for(app), WEB_TIMEOUT),
    )
