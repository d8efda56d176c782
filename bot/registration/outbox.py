"""The reply outbox: a webhook event's reply is stored with the event and sent after commit.

Why: LINE gives a webhook 2 seconds, and the Messaging API may be slow or not answer at
all; a process may also die between commit and send. So the reply is a row written in the
event's transaction (`store`), and after commit this process's `ReplySender` sends it from
a thread pool while the webhook has already answered LINE. A sent reply's row is deleted.

Exactly once, whatever dies when:
- The row carries a lease (`lease_until`): until then only the process that wrote it sends.
- After the lease, a sweeper (every web process, every `reply_sweep_seconds`) or LINE's
  redelivery of the event takes the row over (`claim_due_replies`, one UPDATE … RETURNING).
- Taken over while the reply token is young, it is replied again: LINE's 400 "Invalid reply
  token" then means an earlier attempt was accepted (only we hold the token), so it counts
  as sent (as it does when libcurl itself sent the call twice: bot.line.http). With the
  token expired (~1 minute, LINE's rule) it is pushed with the row's
  X-Line-Retry-Key, so retries of the push cannot duplicate it either (409 = sent).
- The one gap: a reply that LINE accepted while its process died before recording it, and
  no process came back within the token's minute; it is then pushed and arrives twice.

A new friend's welcome is stored as a marker (bot.registration.language.WELCOME_LATER):
whichever thread sends the row — this process's, a sweeper's, a redelivery's — first asks
LINE for the new friend's language, stores it unless one is stored, and builds the welcome
in the stored language, so every attempt sends the same welcome.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.errors import InvalidReplyToken, PermanentSendError, RetryableSendError
from bot.line.gateway import replyable
from bot.logs import get_logger
from bot.registration import language
from bot.store import queries
from messages.prebuilt import as_json

log = get_logger("todoku.replies")

# Rows one sweep takes at most; more wait for the next sweep.
SWEEP_BATCH = 100
# Sent rows wait up to this long for a webhook's transaction to delete them with its own
# rows (`take_sent`); then the flusher thread deletes them in a transaction of its own. On
# SQLite every other connection's commit costs the next webhook transaction its page cache
# (~0.7 ms of CPU per event, docs/benchmarks.md). Far inside the lease: a sent row still
# there when its lease ends is only replied again, refused as used, and counted as sent.
FLUSH_AFTER = 0.2
# A webhook's transaction takes them only once this many wait, or the oldest has waited
# TAKE_AFTER: under load one DELETE per TAKE_AT_ONCE replies, not one per transaction
# (each was ~5 % of an event's request path, py-spy).
TAKE_AT_ONCE = 16
TAKE_AFTER = 0.1
# Sent rows deleted by one statement at most.
DELETE_MAX = 500
# Replies (and calls after a commit) queued in one process at most; beyond that, rows wait
# for a sweeper (and a rich menu's link is dropped: the next choice of language links it).
MAX_QUEUED = 5000
# Pushes of a reply are retried for this long; LINE forgets a retry key after 24 hours.
GIVE_UP_AFTER = timedelta(hours=23)


@dataclass
class Pending:
    """One committed reply to send."""

    event_id: str
    user_id: str
    token: str | None
    messages: str  # JSON array
    retry_key: str
    received: datetime
    taken_over: bool = False  # sent by a sweeper/redelivery: an earlier attempt may exist
    # time.monotonic() when its lease began: the start of the transaction that stored it
    queued: float = field(default_factory=time.monotonic)


def lease_seconds(settings) -> float:
    """How long the writing process has to send a reply before others may take it over."""
    return 3 * settings.reply_timeout_seconds


def store(
    conn, settings, event, replies, received: datetime, received_tick: float
) -> Pending | None:
    """Add the event's reply to its transaction (`conn`: its connection, or its session);
    None when there is nothing to send.
    `received_tick`: time.monotonic() when `received` was taken — the lease counts from
    then, so a sender must too (a long transaction has used part of it)."""
    item = reply_for(event, replies, received, received_tick)
    if item is not None:
        store_all(conn, settings, [item])
    return item


def reply_for(event, replies, received: datetime, received_tick: float) -> Pending | None:
    """The reply to store for an event (`store_all`), or None when there is nothing to
    send."""
    if not replies or not replyable(event):  # standby, the console's "Verify": nobody
        return None
    return Pending(
        event_id=event.webhook_event_id,
        user_id=event.source.user_id,
        token=event.reply_token,
        messages=messages_json(replies),
        retry_key=str(uuid.uuid4()),
        received=received,
        queued=received_tick,
    )


def store_all(conn, settings, items: list[Pending]) -> None:
    """Insert the rows of replies in one statement (a batch's: bot.registration.events),
    in the caller's transaction; each leased from its `received`."""
    if not items:
        return
    lease = timedelta(seconds=lease_seconds(settings))
    conn.execute(
        queries.add_reply(),
        [
            {
                "webhook_event_id": item.event_id,
                "line_user_id": item.user_id,
                "reply_token": item.token,
                "messages": item.messages,
                "retry_key": item.retry_key,
                "received_at": item.received,
                "lease_until": item.received + lease,
                "attempts": 0,
                "status": "pending",
            }
            for item in items
        ],
    )


def messages_json(replies) -> str:
    """The replies as LINE's JSON array: SDK models serialised, prebuilt ones
    (messages.prebuilt) joined as they are; the same text `json.dumps` of the list gives."""
    return "[" + ", ".join(as_json(m) for m in replies) + "]"


def take_over(wiring, event_id: str | None = None, limit: int = SWEEP_BATCH) -> list[Pending]:
    """Claim pending replies whose lease ran out (all due, or one event's)."""
    now = datetime.now(UTC)  # LINE's clock: token age and leases are real time
    lease_until = now + timedelta(seconds=lease_seconds(wiring.settings))
    statement = queries.claim_due_replies(now, lease_until, limit, event_id)
    # SQLite: queue for its one writer at the gate, as webhooks do (bot.store.writegate).
    with wiring.write_gate.passage(), wiring.engine.begin() as conn:
        rows = conn.execute(statement).all()
    return [
        Pending(
            event_id=row.webhook_event_id,
            user_id=row.line_user_id,
            token=row.reply_token,
            messages=row.messages,
            retry_key=row.retry_key,
            received=_aware(row.received_at),
            taken_over=True,
        )
        for row in rows
    ]


def due_for_event(wiring, event_id: str) -> Pending | None:
    """A redelivered event's reply, if it is still waiting and nobody holds its lease."""
    found = take_over(wiring, event_id, limit=1)
    return found[0] if found else None


def deliver(wiring, item: Pending) -> str:
    """Send one reply: 'sent', 'retry' (leave it to a later sweep) or 'failed'."""
    settings = wiring.settings
    age = (datetime.now(UTC) - item.received).total_seconds()
    line = wiring.line
    try:
        if item.token and age < settings.reply_token_seconds:
            try:
                line.reply_json(item.token, item.messages)
                return "sent"
            except InvalidReplyToken as exc:
                if item.taken_over or exc.resent:
                    # Only we hold the token, and it is young: an earlier attempt used it
                    # (a sweeper's, or the first sending of this very call).
                    log.info("reply_token_already_used", event_id=item.event_id)
                    return "sent"
                # Never used by us and refused: push instead (nothing was delivered).
        if age > GIVE_UP_AFTER.total_seconds():
            return "failed"
        line.push_json(item.user_id, item.messages, item.retry_key)
        return "sent"
    except RetryableSendError as exc:
        log.warning("reply_retry_later", event_id=item.event_id, status=exc.status)
        return "retry"
    except PermanentSendError as exc:
        log.warning("reply_failed", event_id=item.event_id, status=exc.status)
        return "failed"


class ReplySender:
    """This process's reply threads, the deletion of sent rows, and the sweeper.

    A sent reply's row is deleted by a later webhook transaction of this process once
    TAKE_AT_ONCE rows wait or TAKE_AFTER has passed (`take_sent`, `give_back`), or after
    FLUSH_AFTER by the flusher thread.
    """

    def __init__(self, wiring) -> None:
        self.wiring = wiring
        self.settings = wiring.settings
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, self.settings.reply_threads), thread_name_prefix="reply"
        )
        self._lock = threading.Lock()
        self._queued = 0
        self._sent: list[str] = []
        self._sent_since = 0.0  # when the oldest id in _sent was sent
        self._flush_due = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        # Stores a new friend's language before their welcome (EventWriter.learn, set by
        # the web process's writer); None: a transaction of its own.
        self.store_language: Callable[[str, str], str | None] | None = None

    def send(self, items: list[Pending], after_commit: Sequence[Callable[[], None]] = ()) -> None:
        """Queue committed replies and the calls to LINE their transactions asked for after
        the commit (a rich menu's link); wait up to `reply_wait_seconds` for them (0: never)."""
        (futures,) = self.send_many([(items, after_commit)])
        self.wait(futures)

    def send_many(
        self, webhooks: Sequence[tuple[list[Pending], Sequence[Callable[[], None]]]]
    ) -> list[list[Future]]:
        """Queue several webhooks' replies and calls without waiting: each webhook's
        futures, done when sent (or given up). bot.web's writer thread hands them to the
        requests, which `wait` in the event loop: a writer waiting for replies would hold
        the languages the reply threads ask it to store."""
        return [self._submit(items, after_commit) for items, after_commit in webhooks]

    def wait(self, futures: list[Future]) -> None:
        """Wait up to `reply_wait_seconds` for a webhook's replies (0: never)."""
        if futures and self.settings.reply_wait_seconds > 0:
            wait_for(futures, timeout=self.settings.reply_wait_seconds)

    def _submit(
        self, items: list[Pending], after_commit: Sequence[Callable[[], None]]
    ) -> list[Future]:
        futures: list[Future] = []
        for action in after_commit:
            with self._lock:
                if self._queued >= MAX_QUEUED:  # LINE down for long: do not pile them up
                    log.warning("after_commit_dropped")
                    continue
                self._queued += 1
            futures.append(self._pool.submit(self._act, action))
        for item in items:
            with self._lock:
                if self._queued >= MAX_QUEUED:
                    log.warning("reply_queue_full", event_id=item.event_id)
                    continue  # its lease runs out and a sweeper sends it
                self._queued += 1
            futures.append(self._pool.submit(self._run, item))
        return futures

    def _act(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # never kill the pool thread; nothing to send again
            log.error("after_commit_error", error=type(exc).__name__)
        finally:
            with self._lock:
                self._queued -= 1

    def _run(self, item: Pending) -> None:
        outcome, lang = "retry", None
        try:
            # A reply that waited so long that its lease may end mid-call is left to the
            # sweeper: two processes must never send the same row at once.
            budget = lease_seconds(self.settings) - 2 * self.settings.reply_timeout_seconds
            if item.taken_over or time.monotonic() - item.queued < budget:
                if item.messages == language.WELCOME_LATER_JSON:
                    # A new friend's welcome: their language asked from LINE (at most
                    # PROFILE_TIMEOUT, well inside the margin) and stored first; each
                    # attempt builds it again, and a stored language then wins.
                    item.messages, lang = language.welcome_now(
                        self.wiring, item.user_id, self.store_language
                    )
                outcome = deliver(self.wiring, item)
            else:
                log.warning("reply_left_to_sweeper", event_id=item.event_id)
            if outcome == "failed":
                self._fail(item, "refused by LINE or too old")
        except Exception as exc:  # never kill the pool thread; the row stays pending
            log.error("reply_send_error", event_id=item.event_id, error=type(exc).__name__)
        finally:
            self._finish(item.event_id if outcome == "sent" else None)
        if lang is not None and outcome != "retry":
            language.show_menu_now(self.wiring, item.user_id, lang)  # after the welcome

    def _finish(self, sent_id: str | None) -> None:
        with self._lock:
            self._queued -= 1
            if sent_id is None:
                return
            first = not self._sent
            if first:
                self._sent_since = time.monotonic()
            self._sent.append(sent_id)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="reply-flusher", daemon=True
                )
                self._flusher.start()
            # Woken only to start counting FLUSH_AFTER, or to delete a full statement's
            # worth at once: it sleeps its FLUSH_AFTER out by itself (a wake-up per sent
            # reply cost the flusher a turn of its loop each, and a switch of threads).
            if first or len(self._sent) >= DELETE_MAX:
                self._flush_due.notify()

    def take_sent(self) -> list[str]:
        """The ids of sent replies whose rows are still there, for the caller's transaction
        to delete (`queries.delete_sent_replies`); `give_back` them if it rolls back.
        None of them (an empty list) until TAKE_AT_ONCE wait or the oldest has waited
        TAKE_AFTER."""
        with self._lock:
            if len(self._sent) < TAKE_AT_ONCE and time.monotonic() - self._sent_since < TAKE_AFTER:
                return []
            taken, self._sent = self._sent[:DELETE_MAX], self._sent[DELETE_MAX:]
            return taken

    def give_back(self, event_ids: list[str]) -> None:
        """Ids from `take_sent` whose deletion did not commit: the flusher deletes them."""
        if not event_ids:
            return
        with self._lock:
            self._sent[:0] = event_ids
            self._sent_since = time.monotonic() - FLUSH_AFTER
            self._flush_due.notify()

    def _flush_forever(self) -> None:
        while True:
            with self._lock:
                while not self._sent:
                    self._flush_due.wait()
                wait = self._sent_since + FLUSH_AFTER - time.monotonic()
                if wait > 0 and len(self._sent) < DELETE_MAX and not self._stop.is_set():
                    self._flush_due.wait(wait)
                    continue
                batch, self._sent = self._sent[:DELETE_MAX], self._sent[DELETE_MAX:]
                self._sent_since = time.monotonic()
            try:
                # SQLite: at the gate, not in its busy handler, which under load gave up
                # (the rows then stayed until a sweeper sent them again, refused as used).
                with self.wiring.write_gate.passage(), self.wiring.engine.begin() as conn:
                    conn.execute(queries.delete_sent_replies(), {"event_ids": batch})
            except Exception as exc:  # rows stay; a sweeper's reply is then refused as used
                log.error("reply_delete_error", rows=len(batch), error=type(exc).__name__)

    def _fail(self, item: Pending, reason: str) -> None:
        with self.wiring.write_gate.passage(), self.wiring.engine.begin() as conn:
            conn.execute(queries.fail_reply(item.event_id, reason))

    def sweep_once(self) -> int:
        """Take over and send every reply whose lease ran out; returns how many."""
        items = take_over(self.wiring)
        for item in items:
            with self._lock:
                self._queued += 1
            self._pool.submit(self._run, item)
        if items:
            log.info("replies_taken_over", count=len(items))
        return len(items)

    def start_sweeper(self) -> None:
        """Sweep every `reply_sweep_seconds` in a daemon thread (not when it is 0)."""
        interval = self.settings.reply_sweep_seconds
        if interval <= 0 or self._sweeper is not None:
            return
        self._sweeper = threading.Thread(
            target=self._sweep_forever, args=(interval,), name="reply-sweeper", daemon=True
        )
        self._sweeper.start()

    def _sweep_forever(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep_once()
            except Exception as exc:  # a database hiccup: try again next time
                log.warning("reply_sweep_error", error=type(exc).__name__)

    def close(self) -> None:
        """Stop sweeping; queued replies are still sent, sent rows deleted at once."""
        self._stop.set()
        with self._lock:
            self._flush_due.notify()
        self._pool.shutdown(wait=False)


_parts_lock = threading.RLock()


def app_part(app, key: str, build):
    """`app.extensions[key]`, built by `build()` on first use, once whichever threads ask."""
    part = app.extensions.get(key)
    if part is None:
        with _parts_lock:
            part = app.extensions.get(key)
            if part is None:
                part = app.extensions[key] = build()
    return part


def sender_for(app) -> ReplySender:
    """The app's ReplySender, built on first use."""

    def build() -> ReplySender:
        sender = ReplySender(app.extensions["todoku"])
        weakref.finalize(app, sender.close)
        return sender

    return app_part(app, "todoku.replies", build)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
