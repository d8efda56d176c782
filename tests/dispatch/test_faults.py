"""Nothing twice, nothing lost: lost answers, 500s, quota, and a crash between record and send."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict

import pytest
from sqlalchemy import select

from bot.dispatch.resume import resume_unfinished
from bot.dispatch.run import run_slot
from bot.store.models import CampaignRun, Delivery, SendBatch
from tests.dispatch.conftest import FAST, NOW, multicasts, notices
from tests.helpers import assert_no_delivery_names_a_missing_resident, in_thread


def keys_and_recipients(sim) -> dict[str, set[tuple[str, ...]]]:
    """Each retry key used, with every distinct recipient list it was sent with."""
    seen = defaultdict(set)
    for request in multicasts(sim):
        seen[request["retry_key"]].add(tuple(request["body"]["to"]))
    return seen


def stored_batches(wiring) -> list[SendBatch]:
    with wiring.session_factory() as session:
        return list(session.scalars(select(SendBatch)))


def test_lost_responses_and_500s_are_retried_with_the_same_key_exactly_once(line, people, sim):
    """Every resident gets one notice; every retry carries its batch's key and recipients."""
    residents = people.crowd(1200)
    sim.faults(error_rate=0.25, lost_response_rate=0.25, seed=7)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {"sent": 1200}
    assert all(len(notices(sim, u)) == 1 for u in residents)
    used = keys_and_recipients(sim)
    batches = stored_batches(line)
    assert set(used) == {b.key for b in batches} and len(batches) == 3
    assert all(len(lists) == 1 for lists in used.values())  # a retry is identical
    statuses = [r["status"] for r in multicasts(sim)]
    assert 500 in statuses and 409 in statuses  # both faults happened and were survived
    assert all(b.status == "sent" and b.request_id for b in batches)


def test_a_timeout_is_retried_with_the_same_key(line, people, sim):
    """A request that times out (maybe accepted) is retried with its key; one notice arrives."""
    residents = people.crowd(3)
    sim.faults(timeout_rate=0.5, timeout_seconds=3.0, seed=3)
    assert run_slot(line, "senior-2026", NOW, policy=FAST).counts == {"sent": 3}
    assert all(len(notices(sim, u)) == 1 for u in residents)
    assert len(keys_and_recipients(sim)) == 1


def test_monthly_quota_fails_with_the_reason_and_stops_the_run(line, people, sim):
    """The quota 429 is not retried: the run stops; nobody is left pending."""
    people.crowd(1200)
    sim.faults(monthly_quota=600)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.status == "stopped" and "monthly" in summary.reason
    # The batches (500, 500, 200) are in flight concurrently, so whichever reaches LINE first
    # is the one accepted; either way one batch fits under 600 and the next does not.
    accepted = [r for r in multicasts(sim) if r["status"] == 200]
    assert len(accepted) == 1
    sent = len(accepted[0]["body"]["to"])
    assert summary.counts == {"sent": sent, "failed": 1200 - sent}
    # The others refused once each (those already at LINE when the first refusal came back
    # are refused too); no retries.
    keys = [r["retry_key"] for r in multicasts(sim)]
    assert len(keys) == len(set(keys)) <= 3
    with line.session_factory() as session:
        reasons = set(session.scalars(select(Delivery.reason).where(Delivery.status == "failed")))
    assert all("monthly" in r for r in reasons)


class Crash(BaseException):
    """The process dies (kill -9, power cut): nothing after this line runs."""


class CrashingSender:
    """The real LINE client, but the process dies at the Nth call, before or after sending it."""

    def __init__(self, client, at_call: int, after_send: bool) -> None:
        self.client, self.at_call, self.after_send, self.calls = client, at_call, after_send, 0
        self.lock = threading.Lock()  # calls come from the dispatcher's threads

    def multicast(self, user_ids, messages, retry_key):
        with self.lock:
            self.calls += 1
            call = self.calls
        if call == self.at_call and not self.after_send:
            raise Crash
        request_id = self.client.multicast(user_ids, messages, retry_key)
        if call == self.at_call:
            raise Crash  # LINE has it; this process never records it
        return request_id


@pytest.mark.parametrize("after_send", [False, True], ids=["before-http", "after-http"])
def test_a_crash_between_record_and_send_is_resumed_with_the_stored_keys(
    line, people, sim, after_send
):
    """resume_unfinished sends the rest with the keys stored before the crash; none twice."""
    residents = people.crowd(1200)
    with pytest.raises(Crash):
        run_slot(
            line,
            "senior-2026",
            NOW,
            sender=CrashingSender(line.dispatcher.sender, 2, after_send),
            policy=FAST,
        )
    stranded = [b for b in stored_batches(line) if b.status == "pending"]
    # Recorded, not confirmed: the crashed one, and the others in flight beside it whose
    # answers the dead process never settled.
    assert len(stranded) >= 1
    done = resume_unfinished(line, policy=FAST)
    assert done["batches_resent"] == len(stranded) and done["runs_sent"] == 1
    assert all(len(notices(sim, u)) == 1 for u in residents)
    used = keys_and_recipients(sim)
    assert {b.key for b in stranded} <= set(used) and len(used) == 3
    assert all(len(lists) == 1 for lists in used.values())
    with line.session_factory() as session:
        assert session.scalar(select(CampaignRun.status)) == "done"
        statuses = set(session.scalars(select(Delivery.status)))
    assert statuses == {"sent"}


def test_an_unconfirmed_batch_older_than_23_hours_is_marked_unknown_not_resent(
    line, people, sim, clock
):
    """Past LINE's 24 h key memory a resend could duplicate: the batch becomes `unknown`."""
    residents = people.crowd(3)
    with pytest.raises(Crash):
        sender = CrashingSender(line.dispatcher.sender, 1, False)
        run_slot(line, "senior-2026", NOW, sender=sender, policy=FAST)
    clock.advance(dt.timedelta(hours=23, minutes=1))
    done = resume_unfinished(line, policy=FAST)
    assert done["batches_unknown"] == 1
    assert multicasts(sim) == []
    assert all(notices(sim, u) == [] for u in residents)
    with line.session_factory() as session:
        rows = session.execute(select(Delivery.status, Delivery.reason)).all()
    assert {status for status, _ in rows} == {"unknown"}
    assert all("24 h" in reason for _, reason in rows)


def test_a_crash_before_the_deliveries_are_recorded_is_recorded_at_resume(line, people, sim):
    """A run claimed but never recorded (crash in between) is recorded and sent at resume."""
    from bot.dispatch import outbox

    residents = people.crowd(2)
    outbox.claim_run(line.session_factory, "senior-2026", "senior-smartphone", NOW, False, NOW)
    done = resume_unfinished(line, policy=FAST)
    assert done["recorded"] == 1
    assert all(len(notices(sim, u)) == 1 for u in residents)


def test_the_first_chunk_is_small_so_the_first_notices_leave_early(line, people, sim, monkeypatch):
    """The first chunk records FIRST_CHUNK residents, each next one twice as many up to
    RECORD_CHUNK: the first multicast waits for a small transaction, not a full chunk."""
    from bot.dispatch import outbox

    monkeypatch.setattr(outbox, "FIRST_CHUNK", 2)
    monkeypatch.setattr(outbox, "RECORD_CHUNK", 8)
    residents = people.crowd(20)
    run_id = outbox.claim_run(
        line.session_factory, "senior-2026", "senior-smartphone", NOW, False, NOW
    )
    recording = outbox.Recording(
        line.session_factory, line.config, outbox.get_run(line.session_factory, run_id)
    )
    recorded = []
    while recording.next_chunk(NOW):
        recorded.append(sum(len(batch.user_ids) for batch in recording.formed))
    assert recorded == [2, 4, 8, 6]
    assert outbox.counts(line.session_factory, run_id) == {"sending": 20}
    resume_unfinished(line, policy=FAST)  # sends what was recorded (the run is "sending")
    assert all(len(notices(sim, u)) == 1 for u in residents)
    assert outbox.counts(line.session_factory, run_id) == {"sent": 20}


def test_a_crash_between_recording_chunks_is_resumed_after_the_last_recorded_resident(
    line, people, sim, monkeypatch
):
    """Recording commits a chunk of residents at a time, already in batches with their
    keys; resume sends those with their keys and records the rest, once."""
    from bot.dispatch import outbox

    monkeypatch.setattr(outbox, "RECORD_CHUNK", 2)
    monkeypatch.setattr(outbox, "AHEAD", 0)  # no next chunk being written at the crash
    residents = people.crowd(5)
    run_id = outbox.claim_run(
        line.session_factory, "senior-2026", "senior-smartphone", NOW, False, NOW
    )
    run = outbox.get_run(line.session_factory, run_id)
    recording = outbox.Recording(line.session_factory, line.config, run)
    assert recording.next_chunk(NOW)
    recording.close()  # then the crash (its connections, and their locks, are gone)
    assert outbox.counts(line.session_factory, run_id) == {"sending": 2}
    [batch] = recording.formed
    assert [b.key for b in stored_batches(line)] == [batch.key]
    assert len(batch.user_ids) == 2 and set(batch.user_ids) <= set(residents)
    done = resume_unfinished(line, policy=FAST)
    assert done["recorded"] == 1
    assert all(len(notices(sim, u)) == 1 for u in residents)
    assert outbox.counts(line.session_factory, run_id) == {"sent": 5}
    assert outbox.get_run(line.session_factory, run_id).status == "done"


def _six_in_chunks_of_two(line, people, monkeypatch) -> list[str]:
    """PostgreSQL only (SQLite writes its chunks one after another): six residents, to be
    recorded in chunks of two."""
    from bot.dispatch import outbox

    if line.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: its chunks are written one after another")
    monkeypatch.setattr(outbox, "FIRST_CHUNK", 2)
    monkeypatch.setattr(outbox, "RECORD_CHUNK", 2)
    return people.crowd(6)


def _two_chunks_in_flight(line, people, monkeypatch):
    """PostgreSQL, chunks of 2 of 6 residents: the first chunk held in the middle (a row it
    writes waits for `holding`'s transaction) and the second chunk written meanwhile on
    its own connection, waiting for the first to commit. Yields (residents, run id, the
    recording, the recorder's thread and outcome, the holding transaction)."""
    from sqlalchemy import text

    from bot.dispatch import outbox
    from bot.store.models import Resident
    from tests.helpers import hold_delivery, wait_for_lock_waits

    residents = _six_in_chunks_of_two(line, people, monkeypatch)
    factory = line.session_factory
    run_id = outbox.claim_run(factory, "senior-2026", "senior-smartphone", NOW, False, NOW)
    recording = outbox.Recording(factory, line.config, outbox.get_run(factory, run_id))
    with factory() as session:
        first = session.scalar(select(Resident.id).order_by(Resident.id))
    # Sessions other than `holding` with rows of `deliveries` written or being written.
    writing = text(
        "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE c.relname = 'deliveries' AND l.mode = 'RowExclusiveLock' AND l.pid <> :holder"
    )
    with line.engine.connect() as holding, line.engine.connect() as watching:
        held = holding.begin()
        holder = holding.scalar(text("SELECT pg_backend_pid()"))
        hold_delivery(holding, run_id, first)
        recorder, outcome = in_thread(lambda: recording.next_chunk(NOW))
        wait_for_lock_waits(watching, 1)  # the first chunk, at its first resident's row
        deadline = time.monotonic() + 5
        while watching.scalar(writing, {"holder": holder}) < 2:
            watching.rollback()
            assert time.monotonic() < deadline, "the second chunk was not written meanwhile"
            time.sleep(0.01)
        # Written, not committed: it waits for the first chunk.
        assert outbox.counts(factory, run_id) == {}
        yield residents, run_id, recording, (recorder, outcome), held


def test_chunks_take_the_residents_lock_in_order_so_a_deletion_between_never_deadlocks(
    line, people, sim, monkeypatch
):
    """PostgreSQL, two chunks in flight: the second may not take the residents' lock before
    the first. If it did, a resident's 削除する (its trigger wants the lock alone) would
    queue behind the second, the first chunk's request behind the deletion, and the second
    chunk would wait for the first to commit: a deadlock PostgreSQL cannot see, the send
    hanging until its statement timeout (10 minutes: CI). Here the first chunk is slowed at
    the lock and a deletion is started as soon as the second holds it. The recording ends
    at once; the deleted resident gets nothing, everyone else one notice."""
    from sqlalchemy import delete, text

    from bot.dispatch import outbox
    from bot.store import queries
    from bot.store.models import Resident
    from tests.helpers import wait_for_lock_waits

    residents = _six_in_chunks_of_two(line, people, monkeypatch)
    factory = line.session_factory
    with factory() as session:
        ids = dict(session.execute(select(Resident.line_user_id, Resident.id)).all())
    leaving = residents[-1]  # in a later chunk
    chunk = threading.local()
    second_holds, deletion_waits = threading.Event(), threading.Event()
    deleter: list = []
    write_after, hold = outbox.Recording._write_after, queries.hold_residents

    def numbered(self, before, holds, chooser, now, after, upto, last, index):
        chunk.index = index
        return write_after(self, before, holds, chooser, now, after, upto, last, index)

    def delete_leaving() -> None:
        with line.engine.begin() as conn:
            conn.execute(delete(Resident).where(Resident.id == ids[leaving]))

    def slowed(conn) -> None:
        # The first chunk late to the lock: the second may come first (and the deletion).
        if chunk.index == 0 and second_holds.wait(1):
            deletion_waits.wait(5)
        hold(conn)
        if chunk.index == 1:
            second_holds.set()
            with line.engine.connect() as watching:
                deleter.append(in_thread(delete_leaving))
                wait_for_lock_waits(watching, 1)  # the deletion waits for the lock
            deletion_waits.set()

    monkeypatch.setattr(outbox.Recording, "_write_after", numbered)
    monkeypatch.setattr(queries, "hold_residents", slowed)
    run_id = outbox.claim_run(factory, "senior-2026", "senior-smartphone", NOW, False, NOW)
    recording = outbox.Recording(factory, line.config, outbox.get_run(factory, run_id))

    def record_all() -> None:
        while recording.next_chunk(NOW):
            pass

    recorder, outcome = in_thread(record_all)
    recorder.join(30)
    if recorder.is_alive():  # deadlocked: end it, so that the test can fail and clean up
        with line.engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        recorder.join(30)
        pytest.fail("the recording deadlocked with the deletion")
    assert outcome == [None]
    for thread, done in deleter:
        thread.join(10)
        assert done == [None]
    assert_no_delivery_names_a_missing_resident(line)
    resume_unfinished(line, policy=FAST)
    assert all(len(notices(sim, u)) == 1 for u in residents if u != leaving)
    assert notices(sim, leaving) == []


def test_on_postgresql_the_next_chunk_is_written_while_the_one_before_is(
    line, people, sim, monkeypatch
):
    """Recording a run on PostgreSQL: while one chunk is being written, the next one is
    written too, on a connection of its own (a chunk is a server process's work: one
    core's), and commits after it. Everyone gets the notice once."""
    from bot.dispatch import outbox

    flight = _two_chunks_in_flight(line, people, monkeypatch)
    residents, run_id, recording, (recorder, outcome), held = next(flight)
    held.rollback()  # the first chunk goes on
    recorder.join(10)
    next(flight, None)
    assert outcome == [True]  # the first chunk, then the second
    assert recording.next_chunk(NOW) and len(recording.formed[0].user_ids) == 2
    while recording.next_chunk(NOW):
        pass
    resume_unfinished(line, policy=FAST)
    assert all(len(notices(sim, u)) == 1 for u in residents)
    assert outbox.counts(line.session_factory, run_id) == {"sent": 6}
    assert outbox.get_run(line.session_factory, run_id).status == "done"


def test_a_chunk_written_after_one_that_failed_is_rolled_back_with_it(
    line, people, sim, monkeypatch
):
    """The first chunk fails (another transaction committed a row of this run for one of
    its residents) while the next is already written: the next one rolls back too. Had it
    committed, the recording would resume after its residents and skip the first chunk's
    others. Resumed, everyone gets the notice once."""
    from bot.dispatch import outbox

    flight = _two_chunks_in_flight(line, people, monkeypatch)
    residents, run_id, recording, (recorder, outcome), held = next(flight)
    held.commit()  # the held row stays: the first chunk breaks the unique key
    recorder.join(10)
    next(flight, None)
    assert outcome == [False]  # recorded by someone else, as far as it knows
    assert not recording.next_chunk(NOW)  # it stopped, and let go of its locks
    assert outbox.counts(line.session_factory, run_id) == {"pending": 1}  # the held row only
    assert stored_batches(line) == []
    assert outbox.get_run(line.session_factory, run_id).status == "running"
    resume_unfinished(line, policy=FAST)
    assert all(len(notices(sim, u)) == 1 for u in residents)
    assert outbox.counts(line.session_factory, run_id) == {"sent": 6}


def _victim_and_recording(line, people):
    from bot.dispatch import outbox
    from bot.store.models import Resident

    if line.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a deletion and a chunk never overlap")
    residents = people.crowd(6)
    factory = line.session_factory
    run_id = outbox.claim_run(factory, "senior-2026", "senior-smartphone", NOW, False, NOW)
    recording = outbox.Recording(factory, line.config, outbox.get_run(factory, run_id))
    with factory() as session:
        ids = {
            user: id_
            for id_, user in session.execute(select(Resident.id, Resident.line_user_id))
            if user in residents
        }
    return residents, ids, run_id, recording


def test_a_chunk_waits_for_a_deletion_in_progress_and_leaves_the_resident_out(line, people, sim):
    """「削除する」 not yet committed when a chunk starts (PostgreSQL): the chunk waits for it
    (the deletion's trigger holds the recording lock), then no longer sees the resident."""
    from sqlalchemy import delete

    from bot.dispatch import outbox
    from bot.store.models import Resident
    from tests.helpers import wait_for_lock_waits

    residents, ids, run_id, recording = _victim_and_recording(line, people)
    victim = residents[2]
    with line.engine.connect() as deleting, line.engine.connect() as watching:
        pending = deleting.begin()
        deleting.execute(delete(Resident).where(Resident.id == ids[victim]))
        recorder, outcome = in_thread(lambda: recording.next_chunk(NOW))
        wait_for_lock_waits(watching, 1)  # the recorder, at the recording lock
        pending.commit()
        recorder.join(10)
    assert outcome == [True]
    while recording.next_chunk(NOW):
        pass
    resume_unfinished(line, policy=FAST)
    assert all(len(notices(sim, u)) == 1 for u in residents if u != victim)
    assert notices(sim, victim) == []
    assert outbox.counts(line.session_factory, run_id) == {"sent": 5}
    assert outbox.get_run(line.session_factory, run_id).status == "done"
    assert_no_delivery_names_a_missing_resident(line)


def test_a_deletion_waits_for_the_chunk_being_written_and_unnames_its_row(line, people, sim):
    """「削除する」 while a chunk with that resident is being written (PostgreSQL): the
    deletion waits for the chunk's commit, then its trigger sets the new row's resident to
    NULL — no delivery names a resident who is gone (deliveries have no foreign key), and
    the recording goes on for everybody else."""
    from sqlalchemy import delete

    from bot.dispatch import outbox
    from bot.store.models import Resident
    from tests.helpers import hold_delivery, wait_for_lock_waits

    residents, ids, run_id, recording = _victim_and_recording(line, people)
    victim, held = residents[2], residents[4]

    def delete_victim() -> None:
        with line.engine.begin() as conn:
            conn.execute(delete(Resident).where(Resident.id == ids[victim]))

    with line.engine.connect() as holding, line.engine.connect() as watching:
        pause = holding.begin()
        hold_delivery(holding, run_id, ids[held])
        recorder, outcome = in_thread(lambda: recording.next_chunk(NOW))
        wait_for_lock_waits(watching, 1)  # the recorder, writing its chunk's rows
        deleter, deleted = in_thread(delete_victim)
        wait_for_lock_waits(watching, 2)  # and the deletion, at the recording lock
        pause.rollback()
        recorder.join(10)
        deleter.join(10)
    assert outcome == [True] and deleted == [None]
    with line.session_factory() as session:
        named = list(session.scalars(select(Delivery.resident_id).where(Delivery.run_id == run_id)))
    # The victim's row was written (the chunk committed first) and then unnamed.
    assert len(named) == 6 and named.count(None) == 1 and ids[victim] not in named
    assert_no_delivery_names_a_missing_resident(line)
    while recording.next_chunk(NOW):
        pass
    resume_unfinished(line, policy=FAST)
    assert all(len(notices(sim, u)) == 1 for u in residents if u != victim)
    assert outbox.get_run(line.session_factory, run_id).status == "done"


def test_a_deletion_waits_for_recording_only_not_for_the_weekly_cap(line, people):
    """The deletion's trigger waits for the recorders' shared lock alone: a long re-check of
    the deferred notices (which holds the weekly cap's lock) does not hold 「削除する」 up."""
    from sqlalchemy import delete, func, text

    from bot.store import queries
    from bot.store.models import Resident

    if line.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the lock is PostgreSQL's")
    resident_id, _ = people.add()
    cap = select(func.pg_advisory_xact_lock(func.hashtext(queries.WEEKLY_CAP_LOCK)))
    with line.engine.connect() as rechecking, line.engine.connect() as deleting:
        held = rechecking.begin()
        rechecking.execute(cap)
        with deleting.begin():
            deleting.execute(text("SET LOCAL lock_timeout = '1s'"))
            deleting.execute(delete(Resident).where(Resident.id == resident_id))
        held.rollback()
    with line.session_factory() as session:
        assert session.get(Resident, resident_id) is None


def test_deletions_all_through_a_run_leave_no_row_naming_someone_gone(
    line, people, sim, monkeypatch
):
    """Residents deleting their data one after another while a run is recorded in small
    chunks and sent (PostgreSQL): no error either side (no deadlock), no delivery naming a
    resident who is gone, and everyone who stays gets the notice once. A stress test
    beside the two above, which hold each order of the race on purpose: without the
    recorders' lock it fails in about three runs of four."""
    import random

    from sqlalchemy import delete

    from bot.dispatch import outbox
    from bot.store.models import Resident

    if line.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a deletion and a chunk never overlap")
    monkeypatch.setattr(outbox, "FIRST_CHUNK", 25)
    monkeypatch.setattr(outbox, "RECORD_CHUNK", 50)
    residents = people.crowd(800)
    with line.session_factory() as session:
        ids = dict(session.execute(select(Resident.line_user_id, Resident.id)).all())
    gone = random.Random(13).sample(residents, 100)

    def delete_them() -> None:
        for user in gone:
            with line.engine.begin() as conn:
                conn.execute(delete(Resident).where(Resident.id == ids[user]))

    deleter, deleted = in_thread(delete_them)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    deleter.join(30)
    assert deleted == [None]
    assert_no_delivery_names_a_missing_resident(line)
    assert all(len(notices(sim, u)) == 1 for u in set(residents) - set(gone))
    assert all(len(notices(sim, u)) <= 1 for u in gone)
    assert sum(summary.counts.values()) >= len(residents) - len(gone)
