"""The outbox's named queries (bot.store.queries), through bot.dispatch.outbox.

The dispatch tests cover them end to end; these pin the shapes a test there does not
reach: a deleted resident's pending row, a batch that loses its rows to a twin, and
sent_at written for sent batches only.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, select, text

from bot.clock import TOKYO
from bot.dispatch import outbox
from bot.dispatch.variant import JAPANESE
from bot.residents.purge import purge_unfollowed
from bot.store import queries
from bot.store.engine import transaction
from bot.store.models import CampaignRun, Delivery, Resident, SendBatch
from messages import LANGUAGES
from tests.helpers import fixture_examples

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)


def _run_with(wiring, residents: int, campaign: str = "c", first: int = 0) -> tuple[int, list]:
    """A sending run with one pending delivery per new resident; (run id, resident ids)."""
    with transaction(wiring.session_factory) as session:
        run = CampaignRun(
            campaign_id=campaign, program_id="p", slot_at=NOW, status="sending", started_at=NOW
        )
        session.add(run)
        session.flush()
        ids = []
        for n in range(first, first + residents):
            row = {"line_user_id": f"U{n:032x}", "following": True}
            ids.append(
                session.execute(insert(Resident).values(row).returning(Resident.id)).scalar_one()
            )
        session.add_all(
            Delivery(run_id=run.id, program_id="p", resident_id=i, status="pending", created_at=NOW)
            for i in ids
        )
    return run.id, ids


def _statuses(wiring, run_id: int) -> list[tuple]:
    with wiring.session_factory() as session:
        query = select(Delivery.status, Delivery.reason, Delivery.sent_at).where(
            Delivery.run_id == run_id
        )
        return [tuple(row) for row in session.execute(query.order_by(Delivery.id))]


def test_a_pending_row_whose_resident_deleted_their_data_is_skipped(wiring):
    run_id, ids = _run_with(wiring, 2)
    with transaction(wiring.session_factory) as session:
        session.delete(session.get(Resident, ids[0]))
    outbox.skip_orphans(wiring.session_factory, run_id)
    assert [s[:2] for s in _statuses(wiring, run_id)] == [
        ("skipped", "resident deleted their data"),
        ("pending", None),
    ]


def test_deleting_residents_keeps_their_deliveries_without_naming_them(wiring):
    """Every way a resident goes — 「削除する」 (the ORM's delete), the cascade to their
    family profile, the purge of unfollowed accounts — leaves their deliveries counted and
    nameless (a trigger on residents: deliveries have no foreign key), and nobody else's."""
    run_id, ids = _run_with(wiring, 4)
    holder, purged, kept = ids[0], ids[2], ids[3]
    with transaction(wiring.session_factory) as session:
        profile = session.execute(
            insert(Resident).values(guardian_id=holder, label="母").returning(Resident.id)
        ).scalar_one()
        session.add(
            Delivery(
                run_id=run_id, program_id="p", resident_id=profile, status="sent", created_at=NOW
            )
        )
        session.get(Resident, purged).following = False
        session.get(Resident, purged).unfollowed_at = NOW - dt.timedelta(days=40)
    with transaction(wiring.session_factory) as session:
        # As 「削除する」 does; the family profile goes along (ON DELETE CASCADE).
        session.delete(session.get(Resident, holder))
    with transaction(wiring.session_factory) as session:
        assert purge_unfollowed(session, NOW, 0) == 1
    with wiring.session_factory() as session:
        named = session.scalars(select(Delivery.resident_id).where(Delivery.run_id == run_id))
        assert sorted(named, key=lambda i: (i is not None, i)) == [None, None, None, ids[1], kept]
        assert set(session.scalars(select(Resident.id))) == {ids[1], kept}


def test_a_resident_deleted_while_batches_are_formed_does_not_stall_forming(wiring):
    """The orphan is in the id range but not among the chosen rows: forming must not retry
    for ever; the others go out and the orphan is skipped on the next pass."""
    run_id, ids = _run_with(wiring, 3)
    with transaction(wiring.session_factory) as session:
        session.delete(session.get(Resident, ids[1]))  # after skip_orphans ran for this pass
    [batch] = outbox.form_batches(wiring.session_factory, run_id, NOW, 0, 5)
    assert len(batch.user_ids) == 2
    outbox.skip_orphans(wiring.session_factory, run_id)
    assert [s[0] for s in _statuses(wiring, run_id)] == ["sending", "skipped", "sending"]


def test_a_batch_takes_only_rows_still_pending_and_unbatched(wiring):
    run_id, _ = _run_with(wiring, 3)
    with wiring.session_factory() as session:
        first = session.scalars(select(Delivery.id).order_by(Delivery.id)).first()
        session.add(_batch("k-twin", run_id))
        session.commit()
        # A twin batched the first row meanwhile: only two of the three are taken here.
        session.execute(queries.take_batch(run_id, first, first, "k-twin"))
        session.commit()
        ids = list(session.scalars(select(Delivery.id).order_by(Delivery.id)))
        session.add(_batch("k-late", run_id))
        session.flush()
        assert session.execute(queries.take_batch(run_id, ids[0], ids[-1], "k-late")).rowcount == 2
        session.rollback()
    [batch] = outbox.form_batches(wiring.session_factory, run_id, NOW, 0, 5)
    assert len(batch.user_ids) == 2  # the twin's row is not batched twice


def test_settling_writes_sent_at_only_for_sent_batches(wiring):
    run_id, _ = _run_with(wiring, 2)
    [ok] = outbox.form_batches(wiring.session_factory, run_id, NOW, 0, 1)
    later = NOW + dt.timedelta(minutes=1)
    outbox.settle_batches(wiring.session_factory, [(ok.key, "sent", {"attempts": 1})], later)
    run2, _ = _run_with(wiring, 1, campaign="c2", first=2)
    [bad] = outbox.form_batches(wiring.session_factory, run2, NOW, 0, 1)
    outbox.settle_batch(wiring.session_factory, bad.key, "failed", later, attempts=2, error="400")
    assert [(s, r, at is not None) for s, r, at in _statuses(wiring, run_id)] == [
        ("sent", None, True),
        ("sent", None, True),
    ]
    assert [(s, r, at) for s, r, at in _statuses(wiring, run2)] == [("failed", "400", None)]
    with wiring.session_factory() as session:
        batch = session.get(SendBatch, bad.key)
        assert (batch.status, batch.attempts, batch.sent_at) == ("failed", 2, None)
    assert outbox.counts(wiring.session_factory, run_id) == {"sent": 2}


def _batch(key: str, run_id: int) -> SendBatch:
    return SendBatch(key=key, run_id=run_id, status="pending", attempts=0, created_at=NOW)


def test_any_profiles_says_whether_a_family_profile_exists_from_the_index(wiring):
    """Asked on every page of batches: on SQLite it must not scan the residents (an EXISTS
    over `guardian_id IS NOT NULL` did, ~40 ms a page at 100,000 residents)."""
    _, ids = _run_with(wiring, 3)
    with wiring.session_factory() as session:
        assert session.scalar(queries.any_profiles()) is None
    with transaction(wiring.session_factory) as session:
        session.add(Resident(guardian_id=ids[1], label="母", following=True))
    with wiring.session_factory() as session:
        assert session.scalar(queries.any_profiles()) is not None
    if wiring.engine.dialect.name == "sqlite":
        sql = str(
            queries.any_profiles().compile(wiring.engine, compile_kwargs={"literal_binds": True})
        )
        with wiring.engine.connect() as conn:
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        assert "ix_residents_guardian_id" in plan and "SCAN residents" not in plan, plan


PREFIX = "0" * 8 + "-0000-4000-8000-"


def _chosen(wiring, batch: int, number_later: bool = False) -> list[tuple]:
    """The chunk of every resident (no rule), batched by `batch`: (resident, status, variant,
    key) in resident order, read from the chunk table in the same transaction."""
    everyone = select(Resident.id)
    with transaction(wiring.session_factory) as session:
        conn = session.connection()
        queries.start_chunk(conn)
        statement = queries.choose_chunk(
            everyone,
            0,
            NOW - dt.timedelta(days=7),
            3,
            "cap",
            PREFIX,
            batch,
            variants=LANGUAGES,
            number_later=number_later,
        )
        session.execute(statement)
        if number_later:
            queries.number_chunk_batches(conn, PREFIX, batch)
        rows = conn.exec_driver_sql(
            "SELECT resident_id, status, variant, batch_key FROM todoku_chunk ORDER BY resident_id"
        ).all()
    return [tuple(row) for row in rows]


BOTH_WAYS = pytest.mark.parametrize("number_later", [False, True], ids=["window", "later"])


@BOTH_WAYS
def test_a_chunk_is_chosen_into_batches_per_language_and_families_are_left_pending(
    wiring, number_later
):
    """Holders alone are batched (≤ `batch` each, one language per batch, keys that are
    UUIDs); an account with a family profile is not (its one message names whose notices
    it carries: formed from pending rows)."""
    _, ids = _run_with(wiring, 5)
    with transaction(wiring.session_factory) as session:
        session.get(Resident, ids[1]).language = "en"
        session.get(Resident, ids[3]).language = "en"
        profile = Resident(guardian_id=ids[4], label="母", following=True)
        no_line_id = Resident(following=True)  # nobody to multicast to: not batched here
        session.add_all([profile, no_line_id])
        session.flush()
        profile_id = profile.id
    rows = _chosen(wiring, batch=2, number_later=number_later)
    by_resident = {r[0]: r for r in rows}
    assert by_resident[no_line_id.id][1] == "pending" and by_resident[no_line_id.id][3] is None
    assert [by_resident[i][1:3] for i in ids] == [
        ("sending", "ja"),
        ("sending", "en"),
        ("sending", "ja"),
        ("sending", "en"),
        ("pending", "ja"),
    ]
    assert by_resident[profile_id][1] == "pending" and by_resident[profile_id][3] is None
    assert by_resident[ids[4]][3] is None
    keys = {by_resident[i][3] for i in ids[:4]}
    # ja: residents 0 and 2 in one batch; en: 1 and 3 in another.
    assert by_resident[ids[0]][3] == by_resident[ids[2]][3] != by_resident[ids[1]][3]
    assert by_resident[ids[1]][3] == by_resident[ids[3]][3]
    assert len(keys) == 2 and all(str(uuid.UUID(k)) == k for k in keys)


# A resident of a chunk: their language (None: never chosen, read as Japanese; "xx": one
# no longer offered) and whether they have a LINE id.
chunk_people = st.lists(
    st.tuples(st.sampled_from([None, *LANGUAGES, "xx"]), st.booleans().map(lambda b: not b)),
    min_size=1,
    max_size=40,
)


@fixture_examples(60)
@given(
    people=chunk_people,
    batch=st.integers(1, 7),
    way=st.sampled_from(["window", "later", "later, written in another order"]),
)
def test_every_variant_of_a_chunk_is_cut_into_full_batches_of_its_own(engine, people, batch, way):
    """Either way of numbering, whatever the mix of languages: every batched row gets a
    key, a key is at most `batch` rows of one language, and each language takes
    ceil(n / batch) keys (full batches but its last). Numbered later from rows written in
    another order than chosen, a key still holds at most `batch` rows of one language."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            for n, (language, has_line_id) in enumerate(people):
                row = {"following": True, "line_user_id": f"U{n:032x}" if has_line_id else None}
                if language is not None:
                    row["language"] = language
                conn.execute(insert(Resident).values(row))
            queries.start_chunk(conn)
            later = way != "window"
            since = NOW - dt.timedelta(days=7)
            statement = queries.choose_chunk(
                select(Resident.id), 0, since, 3, "cap", PREFIX, batch,
                variants=LANGUAGES, number_later=later,
            )  # fmt: skip
            if way == "later, written in another order":  # reverse resident order
                reordered = statement.select.order_by(None).order_by(text("1 DESC"))
                columns = [c.name for c in queries._chunk.columns if c.name != "seq"]
                statement = insert(queries._chunk).from_select(columns, reordered)
            conn.execute(statement)
            if later:
                queries.number_chunk_batches(conn, PREFIX, batch)
            rows = conn.exec_driver_sql("SELECT status, variant, batch_key FROM todoku_chunk").all()
        finally:
            outer.rollback()
    batched = [(variant, key) for status, variant, key in rows if status == "sending"]
    assert all(key is None for status, _, key in rows if status != "sending")
    expected = Counter(
        language or "ja"
        for language, has_line_id in people
        if has_line_id and (language is None or language in LANGUAGES)
    )
    assert Counter(variant for variant, _ in batched) == expected
    sizes = Counter(key for _, key in batched)
    assert all(str(uuid.UUID(key)) == key for key in sizes)
    assert max(sizes.values(), default=0) <= batch
    variants = {key: {v for v, k in batched if k == key} for key in sizes}
    assert all(len(of) == 1 for of in variants.values())
    if way != "later, written in another order":
        keys_per_variant = Counter(next(iter(of)) for of in variants.values())
        assert keys_per_variant == {v: math.ceil(n / batch) for v, n in expected.items()}


def test_a_resident_whose_language_is_unknown_is_batched_later_under_it(wiring):
    """An old or hand-edited language is no variant the chunk numbers keys for: the row is
    left pending and formed into a batch of its own variant, as before."""
    run_id, ids = _run_with(wiring, 3)
    with transaction(wiring.session_factory) as session:
        session.get(Resident, ids[1]).language = "xx"
    rows = {r[0]: r for r in _chosen(wiring, batch=500)}
    assert [rows[i][1:3] for i in ids] == [("sending", "ja"), ("pending", "xx"), ("sending", "ja")]
    assert rows[ids[1]][3] is None
    # Formed from pending rows (the fixture's), its batch is its own variant's.
    batches = outbox.form_batches(wiring.session_factory, run_id, NOW, 0, 8)
    assert {b.variant.key: b.user_ids for b in batches}["xx"] == [f"U{1:032x}"]


@BOTH_WAYS
def test_a_chunk_over_the_batch_size_is_cut_into_batches(wiring, number_later):
    _run_with(wiring, 5)
    rows = _chosen(wiring, batch=2, number_later=number_later)
    keys = [r[3] for r in rows]
    assert [keys.count(k) for k in dict.fromkeys(keys)] == [2, 2, 1]


def test_choosing_a_chunk_reads_the_guardians_from_the_index(wiring):
    """With no family profiles, SQLite's statistics make `guardian_id = ?` look like a
    scan of everyone; a correlated EXISTS per resident took 84 s for 10,000 residents."""
    if wiring.engine.dialect.name != "sqlite":
        return
    _run_with(wiring, 300)
    with wiring.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    statement = queries.choose_chunk(
        select(Resident.id), 0, NOW, 3, "cap", "0" * 8 + "-0000-4000-8000-", 500, 0, 100
    )
    compiled = statement.compile(wiring.engine, compile_kwargs={"render_postcompile": True})
    unbound = (None,) * len(compiled.positiontup)  # the plan does not depend on the values
    with wiring.engine.connect() as conn:
        queries.start_chunk(conn)
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", unbound)
        plan = " | ".join(row[-1] for row in rows)
    assert "SCAN profile" not in plan and "SCAN person" not in plan, plan


def test_a_resident_deleted_while_a_chunk_is_written_gets_no_row_and_no_batch(wiring):
    """Between choosing a chunk and writing it a resident may go (here in the chunk's own
    transaction: another's deletion waits for the chunk, migration 0011, unless the
    trigger is bypassed): no delivery, no batch of nobody, and the recipients are those
    written."""
    _, ids = _run_with(wiring, 3)
    run_id, _ = _run_with(wiring, 0, campaign="d")  # a new run of the same residents
    everyone = select(Resident.id)
    with transaction(wiring.session_factory) as session:
        conn = session.connection()
        queries.start_chunk(conn)
        prefix = "0" * 8 + "-0000-4000-8000-"
        chosen = session.execute(queries.choose_chunk(everyone, run_id, NOW, 3, "cap", prefix, 1))
        session.execute(queries.chunk_batches(run_id, NOW))
        session.delete(session.get(Resident, ids[0]))  # as if committed by another process
        session.flush()
        written = session.execute(queries.chunk_deliveries(run_id, "p", NOW))
        assert (chosen.rowcount, written.rowcount) == (3, 2)
        session.execute(queries.drop_empty_chunk_batches())
        recipients = session.execute(queries.chunk_recipients(deleted=True)).all()
        keys = set(session.scalars(select(SendBatch.key).where(SendBatch.run_id == run_id)))
    assert sorted(users for _, _, users in recipients) == [f"U{n:032x}" for n in (1, 2)]
    assert keys == {key for key, _, _ in recipients} and len(keys) == 2


def _sqlite_plan(wiring, statement) -> str:
    compiled = statement.compile(wiring.engine, compile_kwargs={"render_postcompile": True})
    unbound = (None,) * len(compiled.positiontup or ())  # the plan does not depend on them
    with wiring.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", unbound)
        return " | ".join(row[-1] for row in rows)


def test_pending_and_due_deferred_rows_are_found_from_their_partial_indexes(wiring):
    """deliveries has no index on status (every row would enter it and move in it when
    settled): a run's unbatched rows and the due deferred rows are found from partial
    indexes, which SQLite uses only when the query holds their WHERE terms."""
    run_id, _ = _run_with(wiring, 5)
    with transaction(wiring.session_factory) as session:
        session.execute(queries.set_defer_until(1, NOW - dt.timedelta(minutes=1), "cap"))
        session.execute(
            Delivery.__table__.update().where(Delivery.id == 1).values(status="deferred")
        )
    with wiring.session_factory() as session:
        pending = session.execute(queries.pending_batch(run_id, 0, 500)).all()
        due = session.execute(queries.due_deferred_over_cap(NOW, NOW - dt.timedelta(days=7), 1))
        assert [row[0] for row in pending] == [2, 3, 4, 5]
        assert due.all() == []  # nobody has a notice in the week: not over the cap
    with transaction(wiring.session_factory) as session:
        released = session.execute(queries.release_due_deferred(NOW))
        assert released.rowcount == 1
    assert [s for s, *_ in _statuses(wiring, run_id)] == ["pending"] * 5
    if wiring.engine.dialect.name != "sqlite":
        return
    # Another run's 500 rows sent in a batch (as most rows are): none is in the index.
    other_run, _ = _run_with(wiring, 500, campaign="other", first=100)
    with transaction(wiring.session_factory) as session:
        session.execute(
            Delivery.__table__.update()
            .where(Delivery.run_id == other_run)
            .values(status="sent", batch_key="0" * 8 + "-0000-4000-8000-000000000000")
        )
    with wiring.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    for statement in (
        queries.pending_batch(run_id, 0, 500),
        queries.resolve_pending(run_id, "skipped", "x"),
        queries.undated_deferred(run_id, 0, 100),
    ):
        assert "ix_deliveries_unbatched" in _sqlite_plan(wiring, statement)
    # Orphans (resident_id NULL): the run's NULLs from the unique index — as few.
    assert "SCAN" not in _sqlite_plan(wiring, queries.skip_orphans(run_id))
    assert "ix_deliveries_deferred" in _sqlite_plan(wiring, queries.release_due_deferred(NOW))


def test_settling_a_batch_rewrites_its_rows_in_place_on_postgresql(wiring):
    """No index names `status` (nor a partial index's WHERE) and the pages keep room, so
    PostgreSQL settles each row as a HOT update: no new index entries, the largest cost
    of a run on PostgreSQL before (docs/benchmarks.md)."""
    if wiring.engine.dialect.name != "postgresql":
        return
    run_id, residents = _run_with(wiring, 40)
    key = "0" * 8 + "-0000-4000-8000-000000000001"
    with transaction(wiring.session_factory) as session:
        session.execute(
            Delivery.__table__.delete().where(Delivery.run_id == run_id)
        )  # written again as a chunk writes them: in their batch, on fresh pages
        session.execute(queries.new_batches(), [outbox._new_batch(key, run_id, NOW, JAPANESE)])
        session.execute(
            insert(Delivery),
            [
                {
                    "run_id": run_id,
                    "program_id": "p",
                    "resident_id": r,
                    "status": "sending",
                    "batch_key": key,
                    "created_at": NOW,
                }
                for r in residents
            ],
        )
    counters = text(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'deliveries'"
    )
    with transaction(wiring.session_factory) as session:
        before = session.execute(counters).one()
        session.execute(queries.settle_deliveries([key], "sent", NOW, None))
        after = session.execute(counters).one()
    assert (after[0] - before[0], after[1] - before[1]) == (40, 40)
    assert [s for s, *_ in _statuses(wiring, run_id)] == ["sent"] * 40
