"""The outbox in the database: runs claimed, deliveries recorded, batches formed and settled.

Record, then send: every row here is committed before the HTTP call it describes, so a
restart resumes from rows alone (style.md point 8). Each function is one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config
from bot.dispatch.variant import JAPANESE, Variant, variant_of
from bot.dispatch.window import WEEK, next_day_with_room
from bot.store import queries as audience
from bot.store.engine import transaction
from bot.store.models import BatchStatus, CampaignRun, DeliveryStatus, RunStatus, SendBatch
from messages import LANGUAGES

BATCH = 500  # LINE: a multicast reaches at most 500 user ids
PAGE = 1000
CAP_REASON = "max_per_week: {limit} notices already in the last 7 days"


# Whose notices one message names: family labels in order, "" for the account holder.
Whose = tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    """One recorded multicast: its retry key, run, recipients and message variant."""

    key: str
    run_id: int
    created_at: dt.datetime
    user_ids: list[str]
    # The highest delivery id looked at when it was formed: where the next batch starts.
    last_id: int = 0
    variant: Variant = JAPANESE
    # Whose notices its one message names (family profiles, 代理受信): () the holders alone.
    whose: Whose = ()


def whose_of(labels: list[str | None]) -> Whose:
    """Whose notices one account's message in a run carries: () for the holder alone,
    else the holder first ("") and the family labels in order."""
    named = sorted({label for label in labels if label is not None})
    if not named:
        return ()
    return ("", *named) if None in labels else tuple(named)


def _encode_whose(whose: Whose) -> str | None:
    return json.dumps(list(whose), ensure_ascii=False) if whose else None


def _decode_whose(raw: str | None) -> Whose:
    return tuple(json.loads(raw)) if raw else ()


def _new_batch(
    key: str, run_id: int, now: dt.datetime, variant: Variant, whose: Whose = ()
) -> dict:
    """A send_batches row, pending: what a retry of this key must send again."""
    return {
        "key": key,
        "run_id": run_id,
        "status": BatchStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "variant": variant.key,
        "whose": _encode_whose(whose),
    }


def claim_run(
    factory: sessionmaker[Session],
    campaign_id: str,
    program_id: str,
    slot_at: dt.datetime,
    reminder: bool,
    now: dt.datetime,
) -> int | None:
    """Insert the run of this slot; None if it exists (another process or an earlier call)."""
    run = CampaignRun(
        campaign_id=campaign_id,
        program_id=program_id,
        slot_at=slot_at,
        reminder=reminder,
        status=RunStatus.RUNNING,
        started_at=now,
    )
    try:
        with transaction(factory) as session:
            session.add(run)
        return run.id
    except IntegrityError:  # uq_campaign_runs_slot: this slot is (being) run elsewhere
        return None


def find_run(factory: sessionmaker[Session], campaign_id: str, slot_at: dt.datetime) -> int:
    """The id of the run of this slot."""
    with factory() as session:
        return session.scalar(audience.slot_run_id(campaign_id, slot_at))


def get_run(factory: sessionmaker[Session], run_id: int) -> CampaignRun:
    """The run with this id."""
    with factory() as session:
        return session.get(CampaignRun, run_id)


def expire_run(factory: sessionmaker[Session], run_id: int, reason: str, now: dt.datetime) -> None:
    """Close a run that must not send (program closed, superseded), with the reason."""
    with transaction(factory) as session:
        session.execute(
            audience.update_run(run_id, status=RunStatus.EXPIRED, reason=reason, finished_at=now)
        )
        # A run whose recording a crash interrupted may have rows not yet batched.
        session.execute(audience.resolve_pending(run_id, DeliveryStatus.SKIPPED, reason))


RECORD_CHUNK = 10_000  # residents per recording transaction (~20 batches: ~0.1 s of sending)
# The first chunk is smaller, and each next one twice the last up to RECORD_CHUNK: the first
# multicast waits for its chunk's transaction, ~0.1 s for 10,000 residents.
FIRST_CHUNK = 1_000
# PostgreSQL: chunks recorded while the one before is still being written (Recording).
AHEAD = 1
# How often a chunk waiting for the one before it to hold the residents' lock looks whether
# that one ended without taking it (Recording._write_after).
HOLD_POLL = 0.05


class _Abandoned(Exception):
    """A chunk rolled back because the one before it was not committed (or recording stopped)."""


class Recording:
    """A claimed run's deliveries, recorded a chunk of residents (by id) per transaction.

    Each chunk commits on its own, its rows already in their batches (keys committed with
    them: `formed`), so those go out while the next chunk is recorded. The run stays
    `running` until the last chunk, which moves it to `sending` in the same transaction: a
    crash in between leaves a `running` run whose recording resumes after the highest
    resident recorded (`recorded-upto`), and batches formed but unsent, which are resent
    with their keys (bot.dispatch.resume); a chunk is all or nothing.

    On PostgreSQL the next chunk (AHEAD of them) is written on a connection of its own
    while the one before it is: a chunk is one server process's work, and on one
    connection the recording kept one core busy and the run waited for it (1,000,000
    residents: the main thread spent 14.8 of the run's 15.2 s recording, the machine 40 %
    idle; docs/benchmarks.md). What makes this safe:
    * a chunk commits only after the one before it has, and rolls back if that one did
      not: `recorded-upto` still means that every account up to it was considered;
    * the locks that keep other recorders out while a chunk counts the week's notices and
      this campaign's (the weekly cap's, the campaign's) are held by one more connection
      for the whole recording (`_Lease`), not by each chunk, whose locks would wait for
      the chunk before; the residents' lock (against deletions) is each chunk's own,
      taken in the chunks' order (`_write_after`);
    * the run's row, the check that the run is still being recorded, is taken last, just
      before the commit (after the chunk before has committed).
    Another recorder (a resume, another campaign, a catch-up pass) waits for the whole
    recording instead of taking turns chunk by chunk. SQLite has one writer: there the
    chunks are written one after another, each taking its locks first.
    """

    def __init__(self, factory: sessionmaker[Session], config: Config, run: CampaignRun):
        self.factory, self.config, self.run = factory, config, run
        self.campaign = config.campaign(run.campaign_id)
        self.program = config.program(self.campaign.program)
        self.done = False
        self.chunks = 0
        self.formed: list[Batch] = []  # the batches the last chunk recorded, to send
        # Whether the last chunk recorded rows it did not batch (send_pending forms those).
        self.left_pending = True
        with factory() as session:
            # Where the recording resumes; read again once the lease is held (PostgreSQL).
            self.after = session.scalar(audience.recorded_upto(run.id)) or 0
            # How this database numbers a chunk's batches (queries.numbers_keys_later).
            self.number_later = audience.numbers_keys_later(session.connection())
            self.ahead = session.connection().dialect.name == "postgresql"
        self._choosers: dict[bool, object] = {}  # built once per run: the last chunk's apart
        self._lease: _Lease | None = None
        self._threads: ThreadPoolExecutor | None = None
        # Chunks being written, in order: each one's future, and the event it sets once it
        # holds the residents' lock.
        self._queued: deque[tuple[Future, threading.Event]] = deque()
        self._planned_last = False
        self._closing = False

    def _chooser(self, last: bool):
        """The run's choose statement (queries.chunk_chooser), with or without a top bound."""
        chooser = self._choosers.get(last)
        if chooser is None:
            run, campaign, program = self.run, self.campaign, self.program
            limit = self.config.delivery.max_per_week
            who = audience.slot_audience(
                [program.eligible, campaign.audience],
                run.slot_at.date(),
                program.id,
                campaign.id,
                reminder=run.reminder,
                run_id=run.id,
            )
            chooser = audience.chunk_chooser(
                who,
                run.id,
                limit,
                CAP_REASON.format(limit=limit),
                BATCH,
                last=last,
                variants=LANGUAGES,
                number_later=self.number_later,
            )
            self._choosers[last] = chooser
        return chooser

    def next_chunk(self, now: dt.datetime) -> bool:
        """Record the next chunk; False when there was nothing left to record."""
        self.formed = []
        if self.done:
            return False
        try:
            chunk = self._next_ahead(now) if self.ahead else self._record_chunk(now)
        except IntegrityError:
            # uq_deliveries_run_resident: another process recorded these residents of this
            # run meanwhile (a resume racing a slow send); it records the rest too.
            chunk = None
        except BaseException:
            self.close()
            raise
        if chunk is None:  # recorded (or expired) by someone else
            self.done = True
            self.close()
            return False
        self.formed, self.left_pending, self.done = chunk
        if self.done:
            self.close()
        return True

    def close(self) -> None:
        """Stop recording (done, or the caller is going down): chunks not yet committed
        roll back, and the lease's locks are released. Idempotent."""
        self._closing = True
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None
        self._queued.clear()
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    def _next_upto(self) -> int:
        """The next chunk's top account id: FIRST_CHUNK residents, twice the last chunk's
        after that, up to RECORD_CHUNK."""
        return self.after + min(RECORD_CHUNK, FIRST_CHUNK << self.chunks)

    def _record_chunk(self, now: dt.datetime) -> tuple[list[Batch], bool, bool] | None:
        """One chunk in one transaction, its locks taken first (SQLite: the write lock)."""
        run = self.run
        with transaction(self.factory) as session:
            # First a write on the run's row: it serialises recorders of the same run
            # (PostgreSQL row lock, SQLite's write lock) and says whether the run is
            # still being recorded at all.
            claimed = session.execute(audience.lock_running_run(run.id))
            if claimed.rowcount != 1:
                return None
            top = session.scalar(audience.last_resident_id()) or 0
            upto = self._next_upto()
            last = upto >= top
            conn = session.connection()
            audience.make_room(conn)
            audience.lock_weekly_cap(conn)  # not at once with another campaign's recording
            audience.hold_residents(conn)  # no deletion while the chunk names them
            audience.lock_campaign(conn, self.campaign.id)  # not at once with its catch-up
            chooser = self._chooser(last)
            bound = None if last else upto
            formed, left_pending = self._write_chunk(session, chooser, now, self.after, bound)
            self._end_chunk(session, last, self.chunks)
        self.chunks += 1
        self.after = upto
        return formed, left_pending, last

    def _next_ahead(self, now: dt.datetime) -> tuple[list[Batch], bool, bool] | None:
        """The next chunk in order, the ones after it already being written."""
        if self._lease is None:
            # Waits for any other recording to end; then where this one resumes.
            self._lease = _Lease(self.factory, self.campaign.id)
            with self.factory() as session:
                self.after = session.scalar(audience.recorded_upto(self.run.id)) or 0
            self._threads = ThreadPoolExecutor(AHEAD + 1, "todoku-record")
        while not self._planned_last and len(self._queued) <= AHEAD:
            self._plan(now)
        chunk, _ = self._queued.popleft()
        return chunk.result()

    def _plan(self, now: dt.datetime) -> None:
        """Start writing the chunk after the last one planned."""
        with self.factory() as session:
            top = session.scalar(audience.last_resident_id()) or 0
        upto = self._next_upto()
        last = upto >= top
        before = self._queued[-1] if self._queued else None
        holds = threading.Event()
        assert self._threads is not None
        chunk = self._threads.submit(
            self._write_after,
            before,
            holds,
            self._chooser(last),
            now,
            self.after,
            upto,
            last,
            self.chunks,
        )
        self._queued.append((chunk, holds))
        self.after, self._planned_last = upto, last
        self.chunks += 1

    def _write_after(
        self,
        before: tuple[Future, threading.Event] | None,
        holds: threading.Event,
        chooser,
        now: dt.datetime,
        after: int,
        upto: int,
        last: bool,
        index: int,
    ) -> tuple[list[Batch], bool, bool] | None:
        """Write a chunk on this thread's connection; commit it once the chunk `before`
        (its future and its `holds`) has been. Sets `holds` once it holds the residents'
        lock, or ends without."""
        try:
            with transaction(self.factory) as session:
                conn = session.connection()
                audience.make_room(conn)
                # The residents' lock (shared, against deletions) in the chunks' order.
                # Taken before the chunk before it, this chunk could leave that one queued
                # behind a deletion that waits for this one, which waits in turn for that
                # one's commit: a deadlock PostgreSQL cannot see (the last wait is ours),
                # broken only by the statement timeout (CI, 10 minutes).
                if before is not None:
                    # Until it holds it, or it ended (then this one will not commit).
                    previous, previous_holds = before
                    while not (previous_holds.wait(HOLD_POLL) or previous.done() or self._closing):
                        pass
                audience.hold_residents(conn)  # no deletion while the chunk names them
                holds.set()
                bound = None if last else upto
                formed, left_pending = self._write_chunk(session, chooser, now, after, bound)
                try:
                    committed = before is None or before[0].result() is not None
                except BaseException:  # failed or cancelled: this one must not commit
                    committed = False
                if not committed or self._closing:
                    raise _Abandoned
                # The run's row last: taken earlier, it would wait for the chunk before.
                if session.execute(audience.lock_running_run(self.run.id)).rowcount != 1:
                    raise _Abandoned  # recorded (or expired) by someone else
                self._end_chunk(session, last, index)
        except _Abandoned:
            return None
        finally:
            holds.set()  # failed or abandoned: the chunk after it must not wait
        return formed, left_pending, last

    def _write_chunk(
        self, session: Session, chooser, now: dt.datetime, after: int, upto: int | None
    ) -> tuple[list[Batch], bool]:
        """Choose and write the chunk's residents (after, upto], or all after `after` (the
        last chunk: `upto` None); the batches it formed, and whether it left rows pending
        for send_pending."""
        run, config, program = self.run, self.config, self.program
        conn = session.connection()
        audience.start_chunk(conn)
        # uuid4, created here and committed before the first attempt: a request
        # sent without its key could never be retried safely (line-platform.md
        # §2.6). The chunk's batches are numbered after this random prefix.
        prefix = str(uuid.uuid4())[: audience.KEY_PREFIX_LENGTH]
        chosen = session.execute(chooser, audience.chunk_params(after, upto, now - WEEK, prefix))
        if self.number_later:
            audience.number_chunk_batches(conn, prefix, BATCH)
        session.execute(audience.chunk_batches(run.id, now))
        written = session.execute(audience.chunk_deliveries(run.id, program.id, now))
        deleted = written.rowcount != chosen.rowcount
        if deleted:
            session.execute(audience.drop_empty_chunk_batches())
        formed = _chunk_batches(session, run.id, now, deleted=deleted)
        deferred = date_deferred(session, config, run.id, now)
        # Rows left pending (family profiles, no LINE id, an unknown language) are
        # batched by send_pending; a chunk of holders alone leaves none to look for.
        batched = sum(len(b.user_ids) for b in formed)
        return formed, written.rowcount > batched + deferred

    def _end_chunk(self, session: Session, last: bool, index: int) -> None:
        """The chunk's last statements: the run moves on to `sending` after its last chunk."""
        if last:
            session.execute(audience.update_run(self.run.id, status=RunStatus.SENDING))
        if last or (index + 1) & index == 0:
            # After chunks 1, 2, 4, 8 … and the last: the planner must see the
            # rows the next queries read (see refresh_delivery_stats).
            audience.refresh_delivery_stats(session.connection())


class _Lease:
    """PostgreSQL: the weekly cap's and the campaign's locks, held for a whole recording by
    a connection of its own (session locks: they outlive its transactions, and end with
    the connection if the process dies)."""

    def __init__(self, factory: sessionmaker[Session], campaign_id: str) -> None:
        self.conn = factory.kw["bind"].connect()
        try:
            audience.lease_recording(self.conn, campaign_id)
            self.conn.commit()
        except BaseException:
            self.conn.invalidate()  # the server ends the session, and any lock it took
            self.conn.close()
            raise

    def release(self) -> None:
        try:
            audience.end_lease(self.conn)
            self.conn.commit()
        except Exception:
            self.conn.invalidate()  # as above: never back to the pool with a lock held
        finally:
            self.conn.close()


def _chunk_batches(
    session: Session, run_id: int, now: dt.datetime, *, deleted: bool
) -> list[Batch]:
    """The batches a chunk just recorded, with their recipients (LINE ids have no ",")."""
    recipients = session.execute(audience.chunk_recipients(deleted=deleted)).all()
    return [
        Batch(key, run_id, now, ids.split(","), variant=Variant.from_key(variant))
        for key, variant, ids in sorted(recipients)
    ]


def date_deferred(session: Session, config: Config, run_id: int, now: dt.datetime) -> int:
    """Give each of the run's deferred rows its date: the next day with room in the window;
    returns how many rows were dated."""
    after, dated = 0, 0
    while rows := session.execute(audience.undated_deferred(run_id, after, PAGE)).all():
        redate(session, config, rows, now)
        after = rows[-1][0]
        dated += len(rows)
    return dated


def redate(session: Session, config: Config, rows: list, now: dt.datetime) -> None:
    """Set defer_until for (delivery id, resident id) rows from the residents' recent notices."""
    recent: dict[int, list[dt.datetime]] = {}
    ids = sorted({resident for _, resident in rows})
    for resident, at in session.execute(audience.recent_sends(ids, now - WEEK)):
        recent.setdefault(resident, []).append(at)
    delivery = config.delivery
    for delivery_id, resident in rows:
        until = next_day_with_room(
            recent.get(resident, []), now, delivery.max_per_week, delivery.window
        )
        reason = CAP_REASON.format(limit=delivery.max_per_week)
        session.execute(audience.set_defer_until(delivery_id, until, reason))


def skip_orphans(factory: sessionmaker[Session], run_id: int) -> None:
    """Pending rows whose resident deleted their data meanwhile cannot be sent: skipped."""
    with transaction(factory) as session:
        session.execute(audience.skip_orphans(run_id))


def form_batch(
    factory: sessionmaker[Session], run_id: int, now: dt.datetime, after_id: int = 0
) -> Batch | None:
    """Record the run's next multicast (key and recipients) and commit it; None when done."""
    batches = form_batches(factory, run_id, now, after_id, 1)
    return batches[0] if batches else None


def form_batches(
    factory: sessionmaker[Session], run_id: int, now: dt.datetime, after_id: int, count: int
) -> list[Batch]:
    """Record up to `count` next multicasts of the run in one transaction; [] when done."""
    while True:
        try:
            return _form_batches(factory, run_id, now, after_id, count)
        except _Raced:
            continue  # another process batched some of the rows: take the next ones


class _Raced(Exception):
    """Rows chosen for a batch were batched by another process meanwhile."""


def _form_batches(
    factory: sessionmaker[Session], run_id: int, now: dt.datetime, after_id: int, count: int
) -> list[Batch]:
    batches = []
    with transaction(factory) as session:
        rows = session.execute(audience.pending_batch(run_id, after_id, BATCH * count)).all()
        if rows and _may_have_siblings(session, rows):
            return _family_batches(session, run_id, now, rows)
        # One multicast sends one message: recipients are grouped by message variant (their
        # language), in delivery order within each, then cut into batches of ≤ 500.
        groups: dict[Variant, list] = {}
        for row in rows:
            groups.setdefault(variant_of(row[2]), []).append(row)
        chunks = [
            (variant, group[i : i + BATCH])
            for variant, group in groups.items()
            for i in range(0, len(group), BATCH)
        ]
        # Each chunk is taken by its id range; when the rows fetched mix variants, the range
        # of one variant's chunk also spans other variants' rows, so the take reads the
        # variant too (and a resident who changed language meanwhile makes it a race).
        mixed = len(groups) > 1
        last_id = rows[-1][0] if rows else after_id
        # uuid4, created here and committed before the first attempt: a request sent
        # without its key could never be retried safely (line-platform.md §2.6). The
        # variant is committed with it, so every retry sends the same message.
        keys = [str(uuid.uuid4()) for _ in chunks]
        if keys:
            session.execute(
                audience.new_batches(),
                [
                    _new_batch(key, run_id, now, variant)
                    for key, (variant, _) in zip(keys, chunks, strict=True)
                ],
            )
        for key, (variant, chunk) in zip(keys, chunks, strict=True):
            language = variant.language if mixed else None
            taken = session.execute(
                audience.take_batch(run_id, chunk[0][0], chunk[-1][0], key, language)
            )
            if taken.rowcount != len(chunk):
                # PostgreSQL re-checks the WHERE after waiting on the other's row locks:
                # sending these rows could send some twice, so roll back and choose again.
                raise _Raced
            batches.append(Batch(key, run_id, now, [r[1] for r in chunk], last_id, variant))
    return batches


@dataclass
class _Account:
    """One LINE account's pending notices in a page: one recipient of one message."""

    user_id: str
    language: str | None
    delivery_ids: list[int]
    labels: list[str | None]


def _may_have_siblings(session: Session, rows: list) -> bool:
    """Whether an account of the page may have notices of this run beyond it: only where
    family profiles exist at all (one index probe), so cities without any pay nothing."""
    return any(row[4] is not None for row in rows) or bool(session.scalar(audience.any_profiles()))


def _family_batches(session: Session, run_id: int, now: dt.datetime, rows: list) -> list[Batch]:
    """Batches where family profiles exist: one recipient per account, its notices of the
    run together (those beyond the page too), grouped by variant and whose they are; each
    takes its rows by id (not a range: an account's rows need not be neighbours)."""
    page_end = rows[-1][0]
    accounts: dict[int, _Account] = {}

    def add(delivery_id: int, user_id: str, language, account: int, label) -> None:
        entry = accounts.setdefault(account, _Account(user_id, language, [], []))
        entry.delivery_ids.append(delivery_id)
        entry.labels.append(label)

    for row in rows:
        add(*row)
    # A holder's and a parent's rows need not be neighbours: the account's other notices of
    # this run beyond the page join its message, so they get one message naming both.
    for row in session.execute(audience.pending_siblings(run_id, page_end, list(accounts))):
        add(*row)
    groups: dict[tuple[Variant, Whose], list[_Account]] = {}
    for entry in accounts.values():
        key = (variant_of(entry.language), whose_of(entry.labels))
        groups.setdefault(key, []).append(entry)
    batches = []
    for (variant, whose), members in groups.items():
        for i in range(0, len(members), BATCH):
            chunk = members[i : i + BATCH]
            batches.append(_record_batch(session, run_id, now, chunk, variant, whose, page_end))
    return batches


def _record_batch(
    session: Session,
    run_id: int,
    now: dt.datetime,
    members: list[_Account],
    variant: Variant,
    whose: Whose,
    page_end: int,
) -> Batch:
    # uuid4, created here and committed before the first attempt: a request sent without
    # its key could never be retried safely (line-platform.md §2.6). Variant and whose are
    # committed with it, so every retry sends the same message.
    key = str(uuid.uuid4())
    session.execute(audience.new_batches(), [_new_batch(key, run_id, now, variant, whose)])
    ids = [i for member in members for i in member.delivery_ids]
    taken = session.execute(audience.take_rows(run_id, ids, key))
    if taken.rowcount != len(ids):
        # PostgreSQL re-checks the WHERE after waiting on the other's row locks:
        # sending these rows could send some twice, so roll back and choose again.
        raise _Raced
    return Batch(key, run_id, now, [m.user_id for m in members], page_end, variant, whose)


def load_batch(factory: sessionmaker[Session], batch: SendBatch) -> Batch:
    """A recorded batch with its recipients, for a resend with the stored key."""
    with factory() as session:
        user_ids = list(session.scalars(audience.batch_recipients(batch.key)))
    return Batch(
        batch.key,
        batch.run_id,
        batch.created_at,
        user_ids,
        variant=Variant.from_key(batch.variant),
        whose=_decode_whose(batch.whose),
    )


def settle_batch(
    factory: sessionmaker[Session],
    key: str,
    status: str,
    now: dt.datetime,
    *,
    attempts: int,
    request_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record a batch's outcome (sent, failed, unknown) on it and on its deliveries."""
    values = {"attempts": attempts, "request_id": request_id, "error": error}
    settle_batches(factory, [(key, status, values)], now)


def settle_batches(
    factory: sessionmaker[Session], outcomes: list[tuple[str, str, dict]], now: dt.datetime
) -> None:
    """settle_batch for several batches (key, status, keyword arguments) in one transaction."""
    with transaction(factory) as session:
        batches, sent = [], []
        for key, status, values in outcomes:
            is_sent = status == BatchStatus.SENT
            error = None if is_sent else values.get("error")
            batches.append(
                audience.settled_batch(
                    key,
                    status,
                    values.get("attempts", 0),
                    values.get("request_id"),
                    error,
                    now if is_sent else None,
                )
            )
            if is_sent:
                sent.append(key)
            else:
                session.execute(audience.settle_deliveries([key], status, now, error))
        if batches:  # one executemany for all the batches
            session.execute(audience.settle_batch(), batches)
        if sent:  # the common case: one statement for all their rows
            session.execute(audience.settle_deliveries(sent, DeliveryStatus.SENT, now, None))


def note_attempts(factory: sessionmaker[Session], key: str, attempts: int, error: str) -> None:
    """A batch still unconfirmed after its retries: count them, keep it pending for later."""
    with transaction(factory) as session:
        session.execute(audience.count_attempts(key, attempts, error))


def fail_pending(factory: sessionmaker[Session], run_id: int, reason: str) -> None:
    """Give up the run's unsent notices for good (e.g. the monthly quota is used up)."""
    with transaction(factory) as session:
        session.execute(audience.resolve_pending(run_id, DeliveryStatus.FAILED, reason))


def unconfirmed_batches(factory: sessionmaker[Session]) -> list[SendBatch]:
    """Batches recorded but not confirmed sent or failed, oldest first."""
    with factory() as session:
        return list(session.scalars(audience.unconfirmed_batches()))


def runs_in(factory: sessionmaker[Session], *statuses: str) -> list[CampaignRun]:
    """Runs in these statuses, oldest first."""
    with factory() as session:
        return list(session.scalars(audience.runs_in(statuses)))


def counts(factory: sessionmaker[Session], run_id: int) -> dict[str, int]:
    """How many of the run's deliveries are in each status."""
    with factory() as session:
        return {status: n for status, n in session.execute(audience.run_delivery_counts(run_id))}


def finish_run(
    factory: sessionmaker[Session], run_id: int, now: dt.datetime, stopped: str | None = None
) -> tuple[str, dict[str, int]]:
    """Close the run when nothing is left in flight; returns its status and its counts per
    delivery status (a grouped count of every row of the run: done once per run)."""
    left = counts(factory, run_id)
    status = (
        RunStatus.STOPPED
        if stopped
        else (RunStatus.SENDING if left.get("pending") or left.get("sending") else RunStatus.DONE)
    )
    with transaction(factory) as session:
        values = {"status": status, "finished_at": None if status == RunStatus.SENDING else now}
        if stopped:
            values["reason"] = stopped
        session.execute(audience.update_run(run_id, **values))
    return status, left
