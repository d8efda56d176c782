"""Todoku's named SQL (the dashboard's is in dashboard_queries): audiences, delivery
recording and deferrals, the outbox's runs and batches, catch-up, the reply outbox, the
scheduler's lease, retention, clicks and health probes. Each function returns a statement
(or runs one on a connection it is given) and says why it is shaped so; callers only
execute. tests/test_architecture.py keeps statement building out of the rest of bot/.

Rules are compiled by ``segments.sql.compile_rule`` over ``RESIDENT_COLUMNS``; this module
adds what makes a resident reachable at all (``registered``) and streams the result in
chunks, so memory stays flat however large the audience.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Column,
    ColumnElement,
    Connection,
    Delete,
    Insert,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    update,
)

from bot.errors import UserError
from bot.store.models import (
    LANGUAGE_ASKING,
    BatchStatus,
    CampaignRun,
    CatchupMark,
    Click,
    Delivery,
    DeliveryStatus,
    ProgramResponse,
    ReplyOutbox,
    Resident,
    ResidentActivity,
    ResidentChild,
    ResidentInterest,
    RunKind,
    RunStatus,
    SchedulerLease,
    SendBatch,
    Timestamp,
    WebhookEvent,
)
from segments.sql import ResidentColumns, compile_rule

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEFAULT_VARIANT = "ja"  # bot.dispatch.variant.DEFAULT_LANGUAGE (store does not import dispatch)

CHUNK = 10_000

_residents = Resident.__table__.c
RESIDENT_COLUMNS = ResidentColumns(
    id=_residents.id,
    birth_date=_residents.birth_date,
    district=_residents.district,
    household_size=_residents.household_size,
    pregnant=_residents.pregnant,
    single_parent=_residents.single_parent,
    child_resident_id=ResidentChild.__table__.c.resident_id,
    child_birth_date=ResidentChild.__table__.c.birth_date,
    interest_resident_id=ResidentInterest.__table__.c.resident_id,
    interest_topic=ResidentInterest.__table__.c.topic,
)


class UnknownTarget(UserError):
    """`todoku audience X` where X is neither a program nor a campaign id."""

    def __init__(self, target: str, valid: list[str]) -> None:
        super().__init__(
            f"unknown program or campaign '{target}'; valid: {', '.join(valid) or '(none)'}"
        )
        self.target = target
        self.valid = valid


def registered() -> ColumnElement[bool]:
    """A registration as the KPI counts it: consented, answered, still following.

    A family profile counts on its own (it mirrors its account's consent and following).
    """
    return and_(
        _residents.consented_at.is_not(None),
        _residents.registered_at.is_not(None),
        _residents.following.is_(True),
    )


def reachable() -> ColumnElement[bool]:
    """Residents a notice may reach: registered and not paused (お知らせを止める)."""
    return and_(registered(), _residents.notices_paused.is_(False))


def matching(rules: Iterable[Any], on: dt.date) -> ColumnElement[bool]:
    """Residents for whom every given rule holds on `on` (None = no restriction)."""
    conditions = [compile_rule(rule, RESIDENT_COLUMNS, on) for rule in rules if rule is not None]
    return and_(true(), *conditions)


_guardians = Resident.__table__.alias("guardian")


def recipient() -> ColumnElement[str]:
    """The LINE id a resident's notices go to: their own, or a family profile's guardian's."""
    # COALESCE evaluates the correlated lookup (primary key) only for a profile's row.
    guardian = (
        select(_guardians.c.line_user_id)
        .where(_guardians.c.id == _residents.guardian_id)
        .scalar_subquery()
    )
    return func.coalesce(_residents.line_user_id, guardian)


def account_of() -> ColumnElement[int]:
    """The resident id of the LINE account a row belongs to (the guardian's for a profile)."""
    return func.coalesce(_residents.guardian_id, _residents.id)


# name: eligible-residents
# The registered residents a program (and, for a campaign, its audience rule) concerns on
# a day: the audience of a send slot before opt-outs and past deliveries. Ordered by id,
# the primary key, so output is stable and SQLite reads it in table order at no cost.
# A family profile is one row like any resident; its LINE id is its guardian's.
def eligible_residents(rules: Any, on: dt.date) -> Select[tuple[int, str]]:
    """Select (id, recipient LINE id) of registered residents matching the rule(s) on `on`."""
    rules = rules if isinstance(rules, list | tuple) else [rules]
    return (
        select(_residents.id, recipient())
        .where(reachable(), matching(rules, on))
        .order_by(_residents.id)
    )


# name: eligible-count
# Only the size of the audience (todoku plan); no ordering, no ids leave the database.
def eligible_count(rules: Any, on: dt.date) -> Select[tuple[int]]:
    """Select how many registered residents match the rule(s) on `on`."""
    rules = rules if isinstance(rules, list | tuple) else [rules]
    return (
        select(func.count()).select_from(Resident.__table__).where(reachable(), matching(rules, on))
    )


def make_room(conn: Connection) -> None:
    """Let PostgreSQL hash rule subqueries in this transaction (run before eligible_* queries)."""
    # `id IN (subquery)` under OR/NOT cannot become a semi-join; PostgreSQL evaluates it as a
    # SubPlan, hashed only if the subquery's rows fit in work_mem (default 4 MB), else it
    # rescans the subquery for every resident. At a million residents an interest subquery
    # has ~400,000 rows: measured, the default took minutes, 256 MB takes 0.3–0.9 s. SET
    # LOCAL ends with the transaction. (Correlated EXISTS was measured too: slower on both.)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")


def stream(conn: Connection, query: Select, chunk: int = CHUNK) -> Iterator[list[tuple]]:
    """Yield the query's rows as plain tuples, `chunk` at a time, with flat memory."""
    make_room(conn)
    # Rows come from the driver's cursor, not as SQLAlchemy Rows: at a million ids the Row
    # objects cost more than the query (measured on PostgreSQL: 1.8 s through Result,
    # 0.7 s from the cursor). So only select columns without result processing (ids,
    # strings). Values are rendered by SQLAlchemy as SQL literals: they are dates, numbers
    # and names from the checked configuration, never text from a request.
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        # A named cursor is a server-side cursor: PostgreSQL sends `chunk` rows per FETCH.
        cursor = driver.cursor(name="todoku_stream")
        params: Any = {}  # parse the query's %% escapes (pyformat), as SQLAlchemy wrote them
    else:
        cursor, params = driver.cursor(), ()  # SQLite steps through rows as they are fetched
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk):
            yield rows
    finally:
        cursor.close()


def target_rules(config: Any, target: str) -> list[Any]:
    """The rules that define a program's or campaign's audience (config.md)."""
    programs = {p.id: p for p in config.programs}
    if target in programs:
        return [programs[target].eligible]
    for campaign in config.campaigns:
        if campaign.id == target and campaign.program in programs:
            return [programs[campaign.program].eligible, campaign.audience]
    raise UnknownTarget(target, sorted(programs) + sorted(c.id for c in config.campaigns))


def audience_ids(engine: Any, rules: list[Any], on: dt.date) -> Iterator[list[str]]:
    """The LINE user ids of the residents `rules` match on `on`, a chunk at a time.

    One id per matching resident: an account whose holder and family profile both match
    appears twice (the dispatcher sends such an account one message naming both).
    """
    with engine.connect() as conn:
        for rows in stream(conn, eligible_residents(rules, on)):
            yield [user for _, user in rows]


# --- Delivery (bot.dispatch.run): who a send slot reaches, and the deferred notices' re-check ---
#
# Delivery statuses that mean "this resident was told (or is being told) in that run": a
# failed or skipped notice never reached anyone, an `unknown` one may have (treated as told:
# a duplicate is worse than a miss). Statuses that count toward delivery.max_per_week are
# the notices sent or on their way.
_D = DeliveryStatus
TOLD = (_D.PENDING, _D.SENDING, _D.SENT, _D.DEFERRED, _D.UNKNOWN)
COUNTED = (_D.PENDING, _D.SENDING, _D.SENT)
_deliveries = Delivery.__table__.c
_runs = CampaignRun.__table__.c
_responses = ProgramResponse.__table__.c
_Timestamp = Timestamp()  # the models' type: stored as UTC on both databases


def _responded(program_id: Any) -> Any:
    """The resident answered 申請済み or 対象外・不要 for the program (correlated)."""
    return exists().where(
        _responses.resident_id == _residents.id, _responses.program_id == program_id
    )


def is_status(column: Any, status: DeliveryStatus) -> ColumnElement[bool]:
    """`status = 'pending'` with the value in the SQL text, not a bound parameter (the
    planner then sees how few rows it selects)."""
    return column == literal_column(f"'{DeliveryStatus(status).value}'", String)


def unbatched(table: Any = None) -> ColumnElement[bool]:
    """`batch_key IS NULL`: the WHERE of ix_deliveries_unbatched, written out so that the
    planner (SQLite's literally) sees the query fits the partial index. Every pending row
    is unbatched (a row gets its key as it leaves `pending`)."""
    return (table if table is not None else _deliveries).batch_key.is_(None)


# name: slot-audience
# The residents one send slot reaches (config.md, "meaning of a send slot"): registered and
# eligible on the slot's day (program rule and campaign audience), minus those who answered
# 申請済み / 対象外・不要 for the program, minus, unless the slot is a reminder, those told
# in this campaign's other runs. Both exclusions are NOT EXISTS: two-valued whatever NULLs
# lie around, and PostgreSQL plans them as anti-joins over the primary key / resident index.
def slot_audience(
    rules: list[Any],
    on: dt.date,
    program_id: str,
    campaign_id: str,
    *,
    reminder: bool,
    run_id: int | None = None,
) -> Select[tuple[int]]:
    """Select the ids of the residents a slot of `campaign_id` reaches on `on`."""
    conditions = [reachable(), matching(rules, on), ~_responded(program_id)]
    if not reminder:
        told = (
            select(_deliveries.id)
            .join(CampaignRun.__table__, _runs.id == _deliveries.run_id)
            .where(
                _deliveries.resident_id == _residents.id,
                _runs.campaign_id == campaign_id,
                _deliveries.status.in_(TOLD),
                true() if run_id is None else _runs.id != run_id,
            )
        )
        conditions.append(~exists(told))
    return select(_residents.id).where(*conditions)


# name: slot-audience-count
# Only the size (todoku plan, send --dry-run): no ids leave the database.
def slot_audience_count(audience: Select[tuple[int]]) -> Select[tuple[int]]:
    """Select how many residents `slot_audience(...)` holds."""
    return select(func.count()).select_from(audience.subquery())


def _recent_counts(since: dt.datetime, run_id: int, residents: Any = None) -> Any:
    # Notices sent (or on their way) to each resident in the rolling 7 days, other runs only;
    # `residents`, a condition on resident_id, keeps a chunk from counting everybody's.
    at = func.coalesce(_deliveries.sent_at, _deliveries.created_at)
    return (
        select(_deliveries.resident_id, func.count().label("n"))
        .where(
            _deliveries.status.in_(COUNTED),
            at > since,
            _deliveries.run_id != run_id,
            _deliveries.resident_id.is_not(None),
            true() if residents is None else residents,
        )
        .group_by(_deliveries.resident_id)
        .subquery("recent")
    )


# name: record-deliveries
# The outbox of a run in one INSERT ... SELECT: nothing passes through Python, so memory
# stays flat at any audience size. A resident who already had `limit` notices in the
# rolling 7 days (since `since`) gets a `deferred` row with the reason; its date is
# computed afterwards (dispatch_window), for those few rows only.
def record_deliveries(
    audience: Select[tuple[int]],
    run_id: int,
    program_id: str,
    now: dt.datetime,
    since: dt.datetime,
    limit: int,
    reason: str,
    after_id: int = 0,
    upto_id: int | None = None,
) -> Insert:
    """Insert one pending (or deferred) Delivery per resident of `audience` in the id range."""
    # A chunk of accounts (after_id, upto_id] at a time: each chunk commits on its own, so
    # its notices are sent while the next chunk is recorded (bot.dispatch.outbox.Recording).
    # An account's family profiles are in its chunk: its notices go out as one message.
    who = audience.where(account_in(after_id, upto_id)).subquery("audience")
    chunk_ids = select(_residents.id).where(account_in(after_id, upto_id))
    mine = _deliveries.resident_id.in_(chunk_ids)
    recent = _recent_counts(since, run_id, mine)
    over = func.coalesce(recent.c.n, 0) >= limit
    rows = select(
        literal(run_id),
        literal(program_id),
        who.c.id,
        case((over, literal(_D.DEFERRED.value)), else_=literal(_D.PENDING.value)),
        case((over, literal(reason, Text)), else_=null()),
        literal(now, _Timestamp),
    ).select_from(who.outerjoin(recent, recent.c.resident_id == who.c.id))
    columns = ["run_id", "program_id", "resident_id", "status", "reason", "created_at"]
    return insert(Delivery).from_select(columns, rows)


# --- Recording a chunk straight into its batches (bot.dispatch.outbox.Recording) ------------
#
# Each delivery row is written once, already under its batch's retry key, instead of
# INSERT pending → UPDATE sending (batch formed) → … : forming batches row by row was the
# largest cost of a run (py-spy, docs/benchmarks.md). The chunk's rows are first chosen
# into a temporary table — one snapshot of the audience, each row with its batch key — so
# the batches' keys and variants are committed (send_batches, referenced by the rows) from
# the very rows that then go into `deliveries`. Only holders without family profiles are
# batched here: an account with profiles gets one message naming whose notices it carries,
# formed from its pending rows as before (bot.dispatch.outbox._family_batches); rows over
# max_per_week are deferred as before.

_chunk = Table(
    "todoku_chunk",
    MetaData(),
    # The order rows were chosen in (batched rows first, by variant, in resident order):
    # consecutive numbers, from which the batches are cut (number_chunk_batches).
    Column("seq", BigInteger, primary_key=True),
    Column("resident_id", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("variant", String(40), nullable=False),
    Column("rank", Integer, nullable=False),  # the variant's place in `variants`; 0: none
    Column("batch_key", String(36)),
    Column("line_user_id", String(33)),
    prefixes=["TEMPORARY"],
)
# A batch key: the chunk's random UUID prefix ("xxxxxxxx-xxxx-4xxx-yxxx-") and 12 decimal
# digits (valid hex) naming the batch within the chunk: 10**11 + variant rank × 10**8 +
# the ordinal of its first row, always 12 digits (a chunk holds far fewer than 10**8 rows).
KEY_PREFIX_LENGTH = 24
_KEY_BASE = 10**11
_PER_VARIANT = 10**8


def start_chunk(conn: Connection) -> None:
    """Create (once per connection) and empty the temporary table of a chunk's rows."""
    # `seq` numbers the rows as they are inserted: SQLite's rowid (1, 2, … again once the
    # table is emptied), an identity column on PostgreSQL (it goes on counting for as long
    # as the connection lives: a bigint, never to run out).
    if conn.dialect.name == "postgresql":
        seq, after = "seq BIGINT GENERATED ALWAYS AS IDENTITY", " ON COMMIT DELETE ROWS"
    else:
        seq, after = "seq INTEGER PRIMARY KEY", ""
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS todoku_chunk ({seq},"
        " resident_id INTEGER NOT NULL, status VARCHAR(20) NOT NULL, reason TEXT,"
        " variant VARCHAR(40) NOT NULL, rank INTEGER NOT NULL, batch_key VARCHAR(36),"
        f" line_user_id VARCHAR(33)){after}"
    )
    conn.execute(delete(_chunk))


# name: choose-chunk
# The chunk's residents (accounts in (after_id, upto_id]) with their status, variant and,
# for those sent as one multicast of ≤ `batch` ids, the batch key: numbered per variant
# (language) in resident order, so each key's rows share one message. Two ways to number
# them, the same batches either way (numbers_keys_later says which a database takes).
def choose_chunk(
    audience: Select[tuple[int]],
    run_id: int,
    since: dt.datetime | BindParameter,
    limit: int,
    reason: str,
    key_prefix: str | BindParameter,
    batch: int,
    after_id: int | BindParameter = 0,
    upto_id: int | BindParameter | None = None,
    *,
    variants: Sequence[str] = (DEFAULT_VARIANT,),
    number_later: bool = False,
) -> Insert:
    """INSERT INTO the chunk table the rows `record_deliveries` would write, batched.

    `variants`: the message variants (languages) batched here, in a fixed order that
    numbers their keys; a row of any other (an old or hand-edited language) is left
    pending, batched later under its own variant. `number_later`: the rows are written
    in batch order with a placeholder key, and `number_chunk_batches` gives them their
    keys (`key_prefix` and `batch` unused here); else each key is computed here by a
    row_number() window."""
    # The columns the chunk needs come with the audience's own rows: a second alias of
    # residents was hash-joined by PostgreSQL over the whole table for every chunk.
    who = (
        audience.where(account_in(after_id, upto_id))
        .add_columns(_residents.guardian_id, _residents.language, _residents.line_user_id)
        .subquery("audience")
    )
    profiles = Resident.__table__.alias("profile")
    # Counted per resident from ix_deliveries_resident_id: a grouped count over the
    # chunk's residents was planned from the status index, i.e. over every delivery ever
    # recorded, once per chunk (quadratic in a run's size).
    at = func.coalesce(_deliveries.sent_at, _deliveries.created_at)
    recent = (
        select(func.count())
        .where(
            _deliveries.resident_id == who.c.id,
            _deliveries.status.in_(COUNTED),
            at > since,
            _deliveries.run_id != run_id,
        )
        .scalar_subquery()
    )
    over = recent >= limit
    # The chunk's guardians, from a range of ix_residents_guardian_id: a correlated
    # EXISTS per resident is planned by SQLite as a scan of every resident (its statistics
    # count the NULLs of a city without profiles as one huge key), 84 s for 10,000.
    guardians = select(profiles.c.guardian_id).where(
        _within(profiles.c.guardian_id, after_id, upto_id)
    )
    # Left `pending` for bot.dispatch.outbox.form_batches: family profiles, accounts with
    # one (one message names whose notices it carries), rows without a LINE id and rows
    # of a variant not in `variants`.
    batched_later = or_(
        who.c.guardian_id.is_not(None),
        who.c.line_user_id.is_(None),
        who.c.id.in_(guardians),
    )
    variant = func.coalesce(who.c.language, literal(DEFAULT_VARIANT))
    # Each variant's keys are numbered in their own range: a fixed rank per variant, not
    # a dense_rank() window (a second sort of the chunk, a fifth of choosing it on SQLite).
    ranked = [(variant == literal(v), literal(n)) for n, v in enumerate(variants, start=1)]
    chosen = (
        select(
            who.c.id.label("resident_id"),
            case((over, 1), else_=0).label("over"),
            case((batched_later, 0), (variant.in_(variants), 1), else_=0).label("alone"),
            variant.label("variant"),
            who.c.line_user_id,
            case(*ranked, else_=literal(0)).label("rank"),
        )
        # OFFSET 0 keeps both databases from merging this into the query below, which
        # evaluated the 7-day count once per use of `over` (five times a row).
        .offset(0)
        .subquery("chosen")
    )
    c = chosen.c
    batched = and_(c.over == 0, c.alone == 1)
    if number_later:
        # The key's final width: number_chunk_batches then rewrites each row in place
        # (a row that grew split the table's pages: 40 % more time on SQLite).
        key = literal(_KEY_PLACEHOLDER, String)
    else:
        ordinal = func.row_number().over(
            partition_by=(c.variant, c.over, c.alone), order_by=c.resident_id
        )
        key = _key(key_prefix, c.rank, ordinal - 1, batch)
    rows = select(
        c.resident_id,
        case(
            (c.over == 1, literal(_D.DEFERRED.value)),
            (batched, literal(_D.SENDING.value)),
            else_=literal(_D.PENDING.value),
        ),
        case((c.over == 1, literal(reason, Text)), else_=null()),
        c.variant,
        c.rank,
        case((batched, key), else_=null()),
        c.line_user_id,
    )
    if number_later:
        # The batched rows (over 0, alone 1) first, each variant's together, in resident
        # order: their `seq` then runs through each variant without a gap.
        rows = rows.order_by(c.over, c.alone.desc(), c.rank, c.resident_id)
    columns = ["resident_id", "status", "reason", "variant", "rank", "batch_key", "line_user_id"]
    # preserve_rowcount: SQLAlchemy reports an INSERT's row count only when asked
    # (PostgreSQL: -1 otherwise); the caller compares it with chunk_deliveries'.
    return insert(_chunk).from_select(columns, rows).execution_options(preserve_rowcount=True)


_KEY_PLACEHOLDER = "0" * 36


def _key(
    key_prefix: str | BindParameter, rank: Any, ordinal: Any, batch: int
) -> ColumnElement[str]:
    """The batch key of the row at 0-based `ordinal` within its variant (of `rank`)."""
    big = BigInteger()  # 12 digits: beyond PostgreSQL's integer
    # The batch's first ordinal (a multiple of `batch`): no division, whose result type
    # differs between the databases (SQLite floors integers, FLOOR returns a real).
    first = ordinal - ordinal % batch
    number = literal(_KEY_BASE, big) + rank * literal(_PER_VARIANT, big) + first
    prefix = key_prefix if isinstance(key_prefix, BindParameter) else literal(key_prefix, String)
    return prefix + cast(number, String)


def numbers_keys_later(conn: Connection) -> bool:
    """Whether this database's chunks are numbered by `number_chunk_batches`.

    SQLite: choosing with the row_number() window took 0.66–0.71 s per 100,000 residents;
    written in order and numbered after, 0.39–0.46 s + 0.09–0.10 s + 0.04 s for the
    variants' starts. PostgreSQL: the window costs it little, and the sort, the identity
    and the rewritten rows cost more (0.80–0.83 s + 0.22 s against 0.61–0.71 s)."""
    return conn.dialect.name == "sqlite"


def chunk_chooser(
    audience: Select[tuple[int]],
    run_id: int,
    limit: int,
    reason: str,
    batch: int,
    *,
    last: bool,
    variants: Sequence[str] = (DEFAULT_VARIANT,),
    number_later: bool = False,
) -> Insert:
    """`choose_chunk` built once for a whole run: the chunk's bounds, the rolling week's
    start and the keys' prefix are parameters (`chunk_params`). Building the statement
    and its cache key for every chunk cost ~5 ms, as much as choosing 1,000 residents."""
    return choose_chunk(
        audience,
        run_id,
        bindparam("chunk_since"),  # typed by the column it is compared with
        limit,
        reason,
        bindparam("chunk_prefix", type_=String),
        batch,
        after_id=bindparam("chunk_after"),
        upto_id=None if last else bindparam("chunk_upto"),
        variants=variants,
        number_later=number_later,
    )


def chunk_params(
    after_id: int, upto_id: int | None, since: dt.datetime, key_prefix: str
) -> dict[str, Any]:
    """The parameters of `chunk_chooser` for one chunk (`upto_id` None for the last)."""
    params = {"chunk_after": after_id, "chunk_since": since, "chunk_prefix": key_prefix}
    if upto_id is not None:
        params["chunk_upto"] = upto_id
    return params


# name: chunk-rank-starts
# Where each variant's batched rows start in the chunk's order (its smallest `seq`).
_RANK_STARTS = (
    select(_chunk.c.rank, func.min(_chunk.c.seq))
    .where(_chunk.c.status == _D.SENDING.value)
    .group_by(_chunk.c.rank)
)


def number_chunk_batches(conn: Connection, key_prefix: str, batch: int) -> None:
    """Give the chunk's batched rows their batch keys: each variant's rows, in `seq`
    order, cut into batches of ≤ `batch`, each key `key_prefix` + the batch's number.

    The rows' `seq` are distinct, so no key gets more than `batch` rows and every key
    one variant (its rank is in the number), whatever order the rows were written in;
    in the chosen order each variant's batches are full but its last."""
    starts = dict(conn.execute(_RANK_STARTS).all())
    if not starts:
        return  # nothing batched in this chunk
    # Every rank present gets its start (the statement is built once per highest rank).
    ranks = max(starts)
    params = {f"start_{rank}": starts.get(rank, 0) for rank in range(1, ranks + 1)}
    conn.execute(_numbering(batch, ranks), {"chunk_prefix": key_prefix, **params})


# name: number-chunk-batches
# The keys of the chunk's batched rows from their `seq`, each variant counted from its
# start (built once per batch size and highest rank).
@functools.cache
def _numbering(batch: int, ranks: int) -> Update:
    c = _chunk.c
    start = case(
        {rank: bindparam(f"start_{rank}", type_=BigInteger) for rank in range(1, ranks + 1)},
        value=c.rank,
    )
    key = _key(bindparam("chunk_prefix", type_=String), c.rank, c.seq - start, batch)
    return update(_chunk).where(c.status == _D.SENDING.value).values(batch_key=key)


# name: chunk-batches
# The chunk's batches, each key once with its variant: committed before any row refers to
# them, and long before the first attempt.
def chunk_batches(run_id: int, now: dt.datetime) -> Insert:
    """INSERT the send_batches rows (pending) of the chunk's batch keys."""
    rows = (
        select(
            _chunk.c.batch_key,
            literal(run_id),
            literal(BatchStatus.PENDING.value),
            literal(0),
            literal(now, _Timestamp),
            func.min(_chunk.c.variant),
        )
        .where(_chunk.c.batch_key.is_not(None))
        .group_by(_chunk.c.batch_key)
    )
    columns = ["key", "run_id", "status", "attempts", "created_at", "variant"]
    return insert(SendBatch.__table__).from_select(columns, rows)


# name: chunk-deliveries
# The chunk's deliveries, in resident order (their ids then follow it, as the batches'
# recipients do); a resident deleted since the chunk was chosen is left out.
def chunk_deliveries(run_id: int, program_id: str, now: dt.datetime) -> Insert:
    """INSERT the chunk's rows into deliveries."""
    rows = (
        select(
            literal(run_id),
            literal(program_id),
            _chunk.c.resident_id,
            _chunk.c.status,
            _chunk.c.reason,
            literal(now, _Timestamp),
            _chunk.c.batch_key,
        )
        .join(Resident.__table__, _residents.id == _chunk.c.resident_id)
        .order_by(_chunk.c.resident_id)
    )
    columns = ["run_id", "program_id", "resident_id", "status", "reason", "created_at", "batch_key"]
    return insert(Delivery).from_select(columns, rows).execution_options(preserve_rowcount=True)


# name: drop-empty-chunk-batches
# A chunk's batch whose every resident was deleted between choosing and writing: no row
# refers to it, and it must never be sent (a multicast to nobody).
def drop_empty_chunk_batches() -> Delete:
    """DELETE the chunk's batches without deliveries."""
    return delete(SendBatch.__table__).where(
        SendBatch.__table__.c.key.in_(
            select(_chunk.c.batch_key).where(_chunk.c.batch_key.is_not(None))
        ),
        ~exists().where(_deliveries.batch_key == SendBatch.__table__.c.key),
    )


# name: chunk-recipients
# The recipients of the chunk's batches, as multicast: (key, variant, LINE ids joined by
# ","), one row per batch — the database joins the ids (group_concat / string_agg), not
# 10,000 rows through Python per chunk. The order of ids within a batch is not kept (a
# retry under the same key needs the same recipients, not their order; `batch_recipients`
# reads them again by delivery id). `deleted`: some resident was deleted between choosing
# and writing the chunk (PostgreSQL, read committed), so the recipients are joined with
# who is left, as the deliveries were; otherwise the chunk table alone says it.
def chunk_recipients(*, deleted: bool = False) -> Select[tuple[str, str, str]]:
    """Select (batch key, variant, comma-joined LINE ids) of the chunk's batches."""
    ids = func.aggregate_strings(_chunk.c.line_user_id, ",")
    query = select(_chunk.c.batch_key, func.min(_chunk.c.variant), ids)
    if deleted:
        query = query.join(Resident.__table__, _residents.id == _chunk.c.resident_id)
    return query.where(_chunk.c.batch_key.is_not(None)).group_by(_chunk.c.batch_key)


def account_in(after_id: int, upto_id: int | None) -> ColumnElement[bool]:
    """Residents whose account (own id, or a profile's guardian_id) is in (after_id, upto_id].

    Two index ranges (primary key; ix_residents_guardian_id) rather than a range over
    COALESCE(guardian_id, id), which no index serves: each chunk reads its own rows only.
    """

    return or_(
        and_(_residents.guardian_id.is_(None), _within(_residents.id, after_id, upto_id)),
        _within(_residents.guardian_id, after_id, upto_id),
    )


def _within(column: Any, after_id: int, upto_id: int | None) -> ColumnElement[bool]:
    low = column > after_id
    return low if upto_id is None else and_(low, column <= upto_id)


def refresh_delivery_stats(conn: Connection) -> None:
    """Let PostgreSQL's planner see a run's freshly inserted deliveries (run after recording)."""
    # Autovacuum analyses a table only some time after a bulk insert. Until then the planner
    # believes `status = 'pending'` matches a handful of rows, and every batch query bitmap-
    # scans and sorts all of them instead of walking the primary key: measured, 100,000
    # residents took 57 s to send instead of a few. ANALYZE samples, so it stays cheap.
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE deliveries")


# name: recent-sends
# The moments of the notices counted toward max_per_week for some residents: the input of
# the "next day with room" arithmetic, fetched for one chunk of deferred residents.
def recent_sends(resident_ids: list[int], since: dt.datetime) -> Select[tuple[int, Any]]:
    """Select (resident_id, moment) of counted notices after `since`."""
    at = func.coalesce(_deliveries.sent_at, _deliveries.created_at)
    return select(_deliveries.resident_id, at).where(
        _deliveries.resident_id.in_(resident_ids), _deliveries.status.in_(COUNTED), at > since
    )


# name: undated-deferred
# Deferred rows of a run that still need their date, a keyset page at a time.
def undated_deferred(run_id: int, after_id: int, limit: int) -> Select[tuple[int, int]]:
    """Select (delivery id, resident id) of deferred rows without defer_until."""
    return (
        select(_deliveries.id, _deliveries.resident_id)
        .where(
            _deliveries.run_id == run_id,
            unbatched(),
            is_status(_deliveries.status, _D.DEFERRED),
            _deliveries.defer_until.is_(None),
            _deliveries.id > after_id,
        )
        .order_by(_deliveries.id)
        .limit(limit)
    )


def _due(now: dt.datetime) -> Any:
    return and_(is_status(_deliveries.status, _D.DEFERRED), _deliveries.defer_until <= now)


# name: skip-due-deferred
# Deferred notices whose time came, but which must not go out any more: the program closed
# (or left the configuration), the resident is no longer registered (unfollowed, paused,
# deleted), or answered 申請済み / 対象外・不要 meanwhile. Each becomes `skipped` with why.
def skip_due_deferred(now: dt.datetime, open_programs: list[str]) -> list[tuple[str, Update]]:
    """(reason, UPDATE) pairs that skip due deferred rows which may no longer be sent."""
    reachable_now = exists().where(_residents.id == _deliveries.resident_id, reachable())
    answered = exists().where(
        _responses.resident_id == _deliveries.resident_id,
        _responses.program_id == _deliveries.program_id,
    )
    reasons = [
        (
            "program closed or removed from the configuration",
            _deliveries.program_id.not_in(open_programs),
        ),
        (
            "resident no longer registered (unfollowed, paused or deleted)",
            or_(_deliveries.resident_id.is_(None), ~reachable_now),
        ),
        ("resident answered 申請済み/対象外・不要 for the program", answered),
    ]
    return [
        (reason, update(Delivery).where(_due(now), where).values(status=_D.SKIPPED, reason=reason))
        for reason, where in reasons
    ]


# name: due-deferred-over-cap
# Due deferred rows whose resident is still at max_per_week: they are deferred again.
def due_deferred_over_cap(
    now: dt.datetime, since: dt.datetime, limit: int
) -> Select[tuple[int, int]]:
    """Select (delivery id, resident id) of due deferred rows still over the weekly cap."""
    recent = _recent_counts(since, -1)
    return (
        select(_deliveries.id, _deliveries.resident_id)
        .join(recent, recent.c.resident_id == _deliveries.resident_id)
        .where(_due(now), recent.c.n >= limit)
    )


# name: release-due-deferred
# The due deferred rows that may go now become pending again, one per resident per pass:
# two notices due at the same moment would otherwise both use the one free place in the
# week; the next pass re-checks the cap for the other.
def release_due_deferred(now: dt.datetime) -> Update:
    """UPDATE the earliest due deferred row of each resident to pending."""
    other = Delivery.__table__.alias("other")
    first = (
        select(func.min(other.c.id))
        .where(
            other.c.resident_id == _deliveries.resident_id,
            is_status(other.c.status, _D.DEFERRED),
            other.c.defer_until <= now,
        )
        .scalar_subquery()
    )
    return (
        update(Delivery)
        .where(_due(now), _deliveries.id == first)
        .values(status=_D.PENDING, reason=None)
    )


# name: last-resident-id
# Where recording a run's chunks ends: the highest resident id now (newer residents joining
# while it records are in the last, open-ended chunk).
def last_resident_id() -> Select[tuple[int | None]]:
    """Select the highest resident id."""
    return select(func.max(_residents.id))


# name: recorded-upto
# Where a run's recording resumes after a crash: chunks commit in account order (a
# profile with its guardian), so every account up to the highest one with a row of this
# run was considered. Read once per recording (resume), joined to residents for the
# profiles' accounts.
def recorded_upto(run_id: int) -> Select[tuple[int | None]]:
    """Select the highest account id recorded for the run."""
    return (
        select(func.max(account_of()))
        .select_from(Delivery.__table__)
        .join(Resident.__table__, _residents.id == _deliveries.resident_id)
        .where(_deliveries.run_id == run_id)
    )


def _pending_rows(run_id: int, after_id: int) -> Select[tuple[int, str, str, int, Any]]:
    """The run's pending, unbatched rows past `after_id`, with pending_batch's columns."""
    return (
        select(_deliveries.id, recipient(), _residents.language, account_of(), _residents.label)
        .join(Resident.__table__, _residents.id == _deliveries.resident_id)
        .where(
            _deliveries.run_id == run_id,
            is_status(_deliveries.status, _D.PENDING),
            _deliveries.batch_key.is_(None),
            _deliveries.id > after_id,
        )
    )


# name: pending-batch
# The next ≤ `limit` pending notices of a run with their recipients' LINE ids, oldest first:
# one multicast request. Keyset paging (id > after_id) walks the primary key from where the
# last batch ended: without it every batch re-reads the rows already batched, and a run of
# 100,000 took 57 s instead of a few on PostgreSQL (measured, benchmarks/dispatch.py).
# Rows whose resident was deleted have no LINE id: skipped before batching (dispatch_outbox).
# The recipient's language comes along: batches are formed per message variant
# (bot.dispatch.variant), as of the moment the batch is recorded. Each row also says its
# account and, for a family profile, its label: an account's notices of one run go out as
# one message naming whose they are (bot.dispatch.outbox). A profile's language mirrors
# its account's.
def pending_batch(run_id: int, after_id: int, limit: int) -> Select[tuple[int, str, str, int, Any]]:
    """Select (delivery id, recipient LINE id, language, account id, label) of pending rows."""
    return _pending_rows(run_id, after_id).order_by(_deliveries.id).limit(limit)


# name: take-batch
# Form one multicast: the run's pending, unbatched rows with ids in [first, last] get the
# batch's key. A range on the primary key, not an IN list of 500 ids (500 bound parameters
# compiled per batch were a third of the dispatcher's main thread); the caller checks that
# the row count equals the rows it chose (another process may have taken some meanwhile).
# `language`: only recipients reading it (a message variant, bot.dispatch.variant), given
# when the rows fetched mixed languages, so the range also holds other variants' rows.
def take_batch(
    run_id: int, first_id: int, last_id: int, key: str, language: str | None = None
) -> Update:
    """UPDATE the chosen rows to `sending` under the batch's retry key."""
    conditions = [
        _deliveries.id.between(first_id, last_id),
        _deliveries.run_id == run_id,
        is_status(_deliveries.status, _D.PENDING),
        _deliveries.batch_key.is_(None),
        # A row whose resident deleted their data meanwhile (resident_id set NULL) is not
        # among the rows the caller chose (pending-batch joins residents): without this the
        # count never matches and forming retries for ever; skip_orphans skips it later.
        _deliveries.resident_id.is_not(None),
    ]
    if language is not None:
        # Correlated, one primary-key lookup per row (an IN over every reader of the
        # language would scan the residents for each batch).
        conditions.append(
            exists().where(
                _residents.id == _deliveries.resident_id, _residents.language == language
            )
        )
    return update(Delivery.__table__).where(*conditions).values(batch_key=key, status=_D.SENDING)


# name: take-rows
# Form one multicast where family profiles exist: the chosen rows by id (an account's
# rows need not be neighbours, so no id range); the caller checks the row count.
def take_rows(run_id: int, ids: list[int], key: str) -> Update:
    """UPDATE these pending, unbatched rows to `sending` under the batch's retry key."""
    return (
        update(Delivery.__table__)
        .where(
            _deliveries.id.in_(ids),
            _deliveries.run_id == run_id,
            is_status(_deliveries.status, _D.PENDING),
            _deliveries.batch_key.is_(None),
        )
        .values(batch_key=key, status=_D.SENDING)
    )


# name: settle-deliveries
# A settled batch's outcome on its rows; several sent batches in one statement.
def settle_deliveries(keys: list[str], status: str, now: dt.datetime, reason: str | None):
    """UPDATE the rows of these batches to `status` (sent_at set when sent)."""
    values: dict[str, Any] = {"status": status, "reason": reason}
    if status == _D.SENT:
        values["sent_at"] = now
    return update(Delivery.__table__).where(_deliveries.batch_key.in_(keys)).values(**values)


# name: any-profiles
# Whether any family profile exists: without one, batching never looks for an account's
# other notices. One row with LIMIT, not EXISTS: SQLite answers `EXISTS (… IS NOT NULL)` by
# scanning every resident (~40 ms at 100,000, an eighth of `todoku send`'s main thread,
# measured with py-spy) but the LIMIT form from ix_residents_guardian_id at once.
def any_profiles() -> Select[tuple[int]]:
    """Select the id of some family profile (none: no row)."""
    return select(_residents.id).where(_residents.guardian_id.is_not(None)).limit(1)


# name: pending-siblings
# The other pending notices of the same run for accounts in a page of pending_batch that
# lie beyond the page (a holder's and a profile's rows need not be neighbours): they join
# their account's message. Both sides are index lookups: the unique (run_id, resident_id)
# index for the holders, ix_residents_guardian_id for the profiles.
def pending_siblings(
    run_id: int, after_id: int, accounts: list[int]
) -> Select[tuple[int, str, str, int, Any]]:
    """Select pending_batch's columns for these accounts' rows beyond the page."""
    profiles = select(_residents.id).where(_residents.guardian_id.in_(accounts))
    return (
        _pending_rows(run_id, after_id)
        .where(or_(_deliveries.resident_id.in_(accounts), _deliveries.resident_id.in_(profiles)))
        .order_by(_deliveries.id)
    )


# name: batch-recipients
# The LINE ids of one recorded batch, in the order they were first sent: a retry with the
# same X-Line-Retry-Key must carry the same recipients (line-platform.md §2.6). An account
# with several notices in the batch (holder and family profile) is one recipient, placed
# by its first notice, as when the batch was formed.
def batch_recipients(batch_key: str) -> Select[tuple[str]]:
    """Select each recipient LINE id of the batch once."""
    to = func.coalesce(_residents.line_user_id, _guardians.c.line_user_id)
    return (
        select(to)
        .select_from(Delivery.__table__)
        .join(Resident.__table__, _residents.id == _deliveries.resident_id)
        .outerjoin(_guardians, _guardians.c.id == _residents.guardian_id)
        .where(_deliveries.batch_key == batch_key)
        .group_by(to)
        .order_by(func.min(_deliveries.id))
    )


# --- The outbox's rows (bot.dispatch.outbox): runs, deliveries and batches ------------------
#
# Each is one statement on primary keys or the (run_id, status) / batch_key indexes; the
# callers run each in its own transaction, committed before the LINE call it describes.
_batches = SendBatch.__table__.c


# name: slot-run-id
# The unique (campaign, slot, kind) index answers it: the run a claim lost to.
def slot_run_id(campaign_id: str, slot_at: dt.datetime) -> Select[tuple[int]]:
    """Select the id of the slot run of this campaign at `slot_at`."""
    return select(CampaignRun.id).where(
        CampaignRun.campaign_id == campaign_id,
        CampaignRun.slot_at == slot_at,
        CampaignRun.kind == RunKind.SLOT,
    )


# name: update-run
# One row by primary key: status changes (expired, sending, done, stopped) with their
# reason and finish time, always written together.
def update_run(run_id: int, **values: Any) -> Update:
    """UPDATE one run's columns (status, reason, finished_at)."""
    return update(CampaignRun).where(CampaignRun.id == run_id).values(**values)


# name: lock-running-run
# A write that changes nothing: it serialises recorders of the same run (PostgreSQL's row
# lock, SQLite's write lock), and a rowcount of 0 says the run is no longer being recorded.
def lock_running_run(run_id: int) -> Update:
    """UPDATE the run to `running` only if it is `running` (rowcount 1: still recording)."""
    return (
        update(CampaignRun)
        .where(CampaignRun.id == run_id, CampaignRun.status == RunStatus.RUNNING)
        .values(status=RunStatus.RUNNING)
    )


# name: resolve-pending
# A run's unsent rows, all at once (expired run: skipped; quota used up: failed), through
# the (run_id, status) index.
def resolve_pending(run_id: int, status: DeliveryStatus, reason: str) -> Update:
    """UPDATE the run's pending deliveries to `status` with `reason`."""
    return (
        update(Delivery)
        .where(Delivery.run_id == run_id, unbatched(), is_status(Delivery.status, _D.PENDING))
        .values(status=status, reason=reason)
    )


# name: skip-orphans
# Rows whose resident deleted their data (resident_id set NULL) have nobody to send to.
def skip_orphans(run_id: int) -> Update:
    """UPDATE the run's pending deliveries without a resident to skipped."""
    return (
        update(Delivery)
        .where(
            Delivery.run_id == run_id,
            unbatched(),
            is_status(Delivery.status, _D.PENDING),
            Delivery.resident_id.is_(None),
        )
        .values(status=_D.SKIPPED, reason="resident deleted their data")
    )


# name: set-defer-until
# One deferred row's date (computed in Python from the resident's recent notices).
def set_defer_until(delivery_id: int, until: dt.datetime, reason: str) -> Update:
    """UPDATE one deferred delivery's defer_until and reason."""
    return (
        update(Delivery).where(Delivery.id == delivery_id).values(defer_until=until, reason=reason)
    )


# name: new-batches
# Several batches' rows in one executemany (the caller passes the rows); a Core insert on
# the table, not ORM objects: the dispatcher's main thread forms thousands of batches.
def new_batches() -> Insert:
    """INSERT send_batches rows (parameters: key, run_id, status, attempts, created_at, variant;
    whose where family profiles are named)."""
    return insert(SendBatch.__table__)


# name: settle-batch
# The batch row by its key (primary key); attempts are added in SQL, so concurrent
# retries of the same batch never lose a count. Core UPDATE on the table (no ORM
# bookkeeping), built once with bound parameters: the answers settled together run as one
# executemany (one statement per batch cost more than its row, ~0.3 ms each, 200 per
# 100,000 residents).
_SETTLE_BATCH = (
    update(SendBatch.__table__)
    .where(_batches.key == bindparam("settled_key"))
    .values(
        status=bindparam("settled_status"),
        attempts=_batches.attempts + bindparam("settled_attempts"),
        request_id=bindparam("settled_request_id"),
        last_error=bindparam("settled_error"),
        sent_at=bindparam("settled_sent_at"),
        whose=None,  # settled: never sent again, the family labels are not kept
    )
)


def settle_batch() -> Update:
    """UPDATE one batch's outcome (parameters: `settled_batch(...)`, one dict per batch)."""
    return _SETTLE_BATCH


def settled_batch(
    key: str,
    status: str,
    attempts: int,
    request_id: str | None,
    error: str | None,
    sent_at: dt.datetime | None,
) -> dict[str, Any]:
    """The parameters of `settle_batch` for one batch: status, attempts (+), request id,
    error, sent_at."""
    return {
        "settled_key": key,
        "settled_status": status,
        "settled_attempts": attempts,
        "settled_request_id": request_id,
        "settled_error": error,
        "settled_sent_at": sent_at,
    }


# name: count-attempts
# A batch still unconfirmed after its retries stays pending; only its tally grows.
def count_attempts(key: str, attempts: int, error: str) -> Update:
    """UPDATE one batch's attempts (+) and last error."""
    return (
        update(SendBatch)
        .where(_batches.key == key)
        .values(attempts=SendBatch.attempts + attempts, last_error=error)
    )


# name: unconfirmed-batches
# Pending batches are few (those in flight or cut off by a crash): resent oldest first.
def unconfirmed_batches() -> Select[tuple[SendBatch]]:
    """Select the pending batches (ORM objects), oldest first."""
    return (
        select(SendBatch)
        .where(_batches.status == BatchStatus.PENDING)
        .order_by(_batches.created_at)
    )


# name: runs-in
# Runs in the given statuses (running, sending: the ones a resume looks at), by id.
def runs_in(statuses: tuple[str, ...]) -> Select[tuple[CampaignRun]]:
    """Select the runs (ORM objects) in these statuses, oldest first."""
    return select(CampaignRun).where(CampaignRun.status.in_(statuses)).order_by(CampaignRun.id)


# name: run-delivery-counts
# Grouped in the database through the (run_id, status) index: a few rows leave it.
def run_delivery_counts(run_id: int) -> Select[tuple[str, int]]:
    """Select (status, count) of one run's deliveries."""
    return (
        select(Delivery.status, func.count())
        .where(Delivery.run_id == run_id)
        .group_by(Delivery.status)
    )


# name: todays-catchup-run
# A campaign has at most one catch-up run a day; its slot_at is the day's first catch-up
# minute, so the day's run is found by a range on the unique (campaign, slot, kind) index.
def catchup_run_between(
    campaign_id: str, start: dt.datetime, end: dt.datetime
) -> Select[tuple[CampaignRun]]:
    """Select the campaign's catch-up run (ORM object) with slot_at in [start, end)."""
    return select(CampaignRun).where(
        CampaignRun.campaign_id == campaign_id,
        CampaignRun.kind == RunKind.CATCHUP,
        CampaignRun.slot_at >= start,
        CampaignRun.slot_at < end,
    )


# name: returning-ids
# psycopg reports no rowcount for an INSERT ... SELECT: RETURNING counts the rows (a
# catch-up pass records a few, so the ids cost nothing).
def returning_ids(record: Insert) -> Insert:
    """The delivery-recording INSERT, returning the new rows' ids."""
    return record.returning(Delivery.id)


# --- The scheduler's lease and its missed slots ---------------------------------------


def take_lease(name: str, owner: str, now: dt.datetime, until: dt.datetime) -> Update:
    """UPDATE the lease to `owner` if it is theirs already, or expired.

    One conditional UPDATE is atomic on both databases (PostgreSQL re-checks the WHERE after
    a concurrent update; SQLite serialises writers), so two takers cannot both win; a
    rowcount of 0 means someone else holds it (or there is no row yet).
    """
    lease = SchedulerLease.__table__.c
    return (
        update(SchedulerLease)
        .where(lease.name == name, or_(lease.owner == owner, lease.expires_at < now))
        .values(owner=owner, expires_at=until)
    )


def release_lease(name: str, owner: str) -> Delete:
    """DELETE the lease row if `owner` holds it (a clean shutdown lets a standby in at once)."""
    lease = SchedulerLease.__table__.c
    return delete(SchedulerLease).where(lease.name == name, lease.owner == owner)


def run_slots_of(campaign_id: str) -> Select[tuple[dt.datetime]]:
    """The slot times that have a run (of any status): a missed slot is one not among them.

    The unique (campaign, slot, kind) index answers it; a campaign has tens of slots, not more.
    Catch-up runs are not slots (one may sit at a slot's moment).
    """
    return select(CampaignRun.slot_at).where(
        CampaignRun.campaign_id == campaign_id, CampaignRun.kind == RunKind.SLOT
    )


def reopen_runs_with_pending() -> Update:
    """UPDATE finished runs that have pending deliveries again (released deferrals) to sending.

    Correlated EXISTS on (run_id, status): the deliveries index serves it, and only runs in
    `done`/`stopped` are looked at, so the tick stays cheap however many runs there were.
    """
    rows = Delivery.__table__.c
    has_pending = exists().where(
        rows.run_id == CampaignRun.id, unbatched(rows), is_status(rows.status, _D.PENDING)
    )
    return (
        update(CampaignRun)
        .where(CampaignRun.status.in_((RunStatus.DONE, RunStatus.STOPPED)), has_pending)
        .values(status=RunStatus.SENDING, finished_at=None)
    )


# --- Retention ------------------------------------------------------------------------


def _purgeable(cutoff: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        _residents.guardian_id.is_(None),
        _residents.following.is_(False),
        _residents.unfollowed_at.is_not(None),
        _residents.unfollowed_at < cutoff,
    )


def purge_candidates(cutoff: dt.datetime, limit: int | None = None) -> Select[tuple[str]]:
    """Select the LINE user ids of residents who unfollowed before `cutoff`, oldest row
    first (at most `limit`): the residents a purge locks before deleting them."""
    return (
        select(_residents.line_user_id)
        .where(*_purgeable(cutoff))
        .order_by(_residents.id)
        .limit(limit)
    )


def purge_unfollowed_before(cutoff: dt.datetime, line_user_ids: Sequence[str]) -> Delete:
    """DELETE those of `line_user_ids` who unfollowed before `cutoff` (their answers'
    retention is over): the candidates a purge selected and locked (purge_candidates).

    One bulk DELETE: ON DELETE CASCADE removes children and interests in the database, and
    an account's family profiles (they mirror its unfollow; counted with it, not apart).
    The conditions are in the DELETE itself, so a resident who follows again meanwhile is
    never removed.
    """
    return delete(Resident).where(*_purgeable(cutoff), _residents.line_user_id.in_(line_user_ids))


# --- Catch-up (bot.dispatch.catchup): residents who became eligible after a slot ran ---
#
# The registration dialog writes a CatchupMark when a resident finishes registering or
# changes an answer; each catch-up pass handles the marks up to the highest id it saw, then
# deletes exactly those (marks committed meanwhile wait for the next pass).
_marks = CatchupMark.__table__.c


def lock_weekly_cap(conn: Connection) -> None:
    """Serialise, until the transaction ends, everything that counts residents' notices of
    the last 7 days against max_per_week and then records or releases notices."""
    # Each counts committed rows only: two campaigns recorded at once on PostgreSQL (READ
    # COMMITTED; a staff `todoku send` beside the scheduler, a catch-up pass beside a
    # slot) would each see 2 of 3 and both send. Taken before any campaign's lock, in
    # the same order everywhere. SQLite serialises writers anyway.
    _advisory_lock(conn, WEEKLY_CAP_LOCK)


WEEKLY_CAP_LOCK = "todoku:max_per_week"


def hold_residents(conn: Connection) -> None:
    """Keep residents from being deleted until the transaction ends: taken (shared) by
    whatever inserts deliveries naming residents it has just read, before reading them."""
    # deliveries.resident_id is not a foreign key (PostgreSQL checked it per inserted row,
    # half the cost of recording a run); a trigger on residents sets it NULL when they go
    # (migration 0011). That trigger first takes this lock exclusively: a deletion waits
    # for the chunk being written, whose rows it then sees and unnames, and a chunk waits
    # for a deletion in progress, whose resident it then no longer reads. Recorders share
    # it. Taken after the weekly cap's lock and before any campaign's, everywhere.
    # SQLite has one writer, and a recorder writes from its first statement on.
    _advisory_lock(conn, RESIDENTS_LOCK, shared=True)


# Also named by the residents' deletion trigger (migrations/versions/0011).
RESIDENTS_LOCK = "todoku:residents-named-in-deliveries"


def lock_campaign(conn: Connection, campaign_id: str) -> None:
    """Serialise recording a campaign's deliveries (slot or catch-up) until the transaction ends."""
    # Both recorders exclude residents already told in the campaign with INSERT ... SELECT;
    # two at once on PostgreSQL (READ COMMITTED) would not see each other's rows and could
    # record one resident twice. SQLite serialises writers anyway.
    _advisory_lock(conn, campaign_id)


def lease_recording(conn: Connection, campaign_id: str) -> None:
    """PostgreSQL: take, for `conn`'s session, the locks a recording's chunks would each
    take (the weekly cap's, then the campaign's), and hold them until `end_lease` or the
    connection ends: the chunks are then written on other connections at once
    (bot.dispatch.outbox.Recording). No deadlock beside the others' order (weekly cap,
    residents, campaign): the chunks take the residents' lock after these, and whoever
    else holds it either took the weekly cap's first or waits for nothing more (the
    deletion's trigger)."""
    if conn.dialect.name == "postgresql":
        for name in (WEEKLY_CAP_LOCK, campaign_id):
            conn.execute(select(func.pg_advisory_lock(func.hashtext(name))))


def end_lease(conn: Connection) -> None:
    """PostgreSQL: release every session lock `conn` holds (lease_recording's)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_unlock_all()))


def _advisory_lock(conn: Connection, name: str, *, shared: bool = False) -> None:
    """PostgreSQL: wait for the transaction lock called `name` and hold it until the
    transaction ends (`shared`: beside other shared holders). SQLite: nothing to do."""
    if conn.dialect.name == "postgresql":
        take = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        conn.execute(select(take(func.hashtext(name))))


# name: catchup-marks-upto
# Where this pass ends: the marks it handles are those up to this id, whatever is added later.
def catchup_marks_upto() -> Select[tuple[int | None]]:
    """Select the highest CatchupMark id (None when there is no mark)."""
    return select(func.max(_marks.id))


# name: clear-catchup-marks
def clear_catchup_marks(upto: int) -> Delete:
    """DELETE the marks a pass has handled."""
    return delete(CatchupMark).where(_marks.id <= upto)


# name: campaign-announced
# A campaign whose slot has run (or is running): only then is a later registrant behind.
# Expired runs (program closed, superseded while down) announced nothing.
def campaign_announced(campaign_id: str) -> Select[tuple[bool]]:
    """Select whether a slot run of the campaign exists that was not expired."""
    return select(
        exists().where(
            _runs.campaign_id == campaign_id,
            _runs.kind == RunKind.SLOT,
            _runs.status != RunStatus.EXPIRED,
        )
    )


# name: catchup-audience
# The marked residents a campaign's catch-up reaches (config.md meaning of a slot, for one
# resident who just became eligible): registered, eligible today (program rule and campaign
# audience), no 申請済み / 対象外・不要 answer, and NO delivery of any status in any run of
# the campaign: once recorded for a campaign (sent, deferred, failed, skipped...), never a
# catch-up again, however often the answers flip. Starts from the few marked residents.
def catchup_audience(
    rules: list[Any], on: dt.date, program_id: str, campaign_id: str, upto: int
) -> Select[tuple[int]]:
    """Select the ids of marked residents (mark id ≤ upto) due a catch-up notice."""
    marked = select(_marks.resident_id).where(_marks.id <= upto)
    told = (
        select(_deliveries.id)
        .join(CampaignRun.__table__, _runs.id == _deliveries.run_id)
        .where(_deliveries.resident_id == _residents.id, _runs.campaign_id == campaign_id)
    )
    return select(_residents.id).where(
        _residents.id.in_(marked),
        registered(),
        matching(rules, on),
        ~_responded(program_id),
        ~exists(told),
    )


# name: catchup-counts
# Catch-up deliveries per campaign and status (todoku plan), apart from the slots' ones.
# Grouped in the database: a few rows per campaign leave it, never resident ids.
def catchup_counts(since: dt.datetime | None = None) -> Select[tuple[str, str, int]]:
    """Select (campaign id, delivery status, count) over catch-up runs (since `since`)."""
    query = (
        select(_runs.campaign_id, _deliveries.status, func.count())
        .join(CampaignRun.__table__, _runs.id == _deliveries.run_id)
        .where(_runs.kind == RunKind.CATCHUP)
        .group_by(_runs.campaign_id, _deliveries.status)
    )
    return query if since is None else query.where(_deliveries.created_at >= since)


# ---- webhook events and the reply outbox (bot.registration) -----------------------------

_outbox = ReplyOutbox.__table__.c


# name: resident-by-line-id
# Every event starts here: the unique index on line_user_id finds the account (a family
# profile has no LINE id of its own). `lock` (FOR UPDATE) makes two events of one resident
# at once (follow + consent, a double tap) run one after the other on PostgreSQL; SQLite
# has a single writer anyway and renders no FOR UPDATE.
# Built once with a bound parameter: building it per event (and SQLAlchemy computing its
# cache key again) cost more than running it.
_RESIDENT_BY_LINE_ID = select(Resident).where(Resident.line_user_id == bindparam("line_user_id"))
_RESIDENT_BY_LINE_ID_LOCKED = _RESIDENT_BY_LINE_ID.with_for_update()


def resident_by_line_id(*, lock: bool = False) -> Select[tuple[Resident]]:
    """Select the resident (ORM entity) by LINE user id (parameter: line_user_id);
    `lock` holds the row."""
    return _RESIDENT_BY_LINE_ID_LOCKED if lock else _RESIDENT_BY_LINE_ID


# name: residents-by-line-ids
# A webhook batch's residents in one query, their rows held (bot.registration.handlers.
# read_ahead); the unique index on line_user_id finds each. Their advisory locks
# (lock_residents) are taken first, in one order, so two batches never deadlock here.
_RESIDENTS_BY_LINE_IDS = (
    select(Resident)
    .where(Resident.line_user_id.in_(bindparam("line_user_ids", expanding=True)))
    .with_for_update()
)


def residents_by_line_ids() -> Select[tuple[Resident]]:
    """Select the residents (ORM entities) with these LINE user ids (parameter:
    line_user_ids, a list), their rows held."""
    return _RESIDENTS_BY_LINE_IDS


# name: languages-left
# New friends whose language is still being asked long after their follow: the call that
# learns it after the commit (a standby follow's) was dropped or died with its process.
# Served by the partial index ix_residents_language_asking.
def languages_left(before: dt.datetime, limit: int) -> Select[tuple[str]]:
    """Select the LINE ids of residents still LANGUAGE_ASKING who followed before `before`,
    the longest waiting first."""
    return (
        select(_residents.line_user_id)
        .where(
            # The index's own condition, as a literal: neither database's planner uses a
            # partial index for a bound parameter it has not seen (a prepared statement).
            _residents.language == literal(LANGUAGE_ASKING, literal_execute=True),
            _residents.followed_at < before,
            _residents.line_user_id.is_not(None),
        )
        .order_by(_residents.followed_at)
        .limit(limit)
    )


# name: mirror-language
# A language learned late (language.learn_left), when the account may have family
# profiles by then: they read in their account's language (Resident.mirror_to_profiles,
# which the ORM paths call). The account is an alias: its row is not the one updated.
_ACCOUNT = Resident.__table__.alias("account")
_MIRROR_LANGUAGE = (
    update(Resident.__table__)
    .where(
        _residents.guardian_id.in_(
            select(_ACCOUNT.c.id).where(_ACCOUNT.c.line_user_id == bindparam("user_id"))
        )
    )
    .values(language=bindparam("lang"))
)


def mirror_language() -> Update:
    """Give an account's family profiles its language (parameters: user_id, lang)."""
    return _MIRROR_LANGUAGE


# name: resident-language
# Read after a rich menu was linked (outside the choice's transaction), to link again if a
# later choice committed meanwhile.
_RESIDENT_LANGUAGE = select(_residents.language).where(
    _residents.line_user_id == bindparam("line_user_id")
)


def resident_language() -> Select[tuple[str | None]]:
    """Select a resident's stored language by LINE user id (parameter: line_user_id)."""
    return _RESIDENT_LANGUAGE


# name: learn-language
# A new friend's language, once the reply thread has asked LINE for it (their app's): set
# only while it is still being asked (LANGUAGE_ASKING), so a language the resident chose
# meanwhile, or one an earlier attempt stored, stays; RETURNING gives what was stored.
_LEARN_LANGUAGE = (
    update(Resident.__table__)
    .where(
        _residents.line_user_id == bindparam("user_id"),
        _residents.language == LANGUAGE_ASKING,
    )
    .values(language=bindparam("lang"))
    .returning(_residents.language)
)


def learn_language() -> Update:
    """Set a new friend's language if still being asked (parameters: user_id, lang — not
    column names, which an UPDATE's parameters would set);
    returns the language when it was set, no row otherwise."""
    return _LEARN_LANGUAGE


# name: lock-residents-in-order
# Every webhook transaction on PostgreSQL (a batch, or one event alone) takes a transaction
# lock per resident (LINE user id) first, all in one statement and in the order of their
# keys, before any handler locks, inserts or deletes a row. So two transactions never hold
# one resident each while waiting for the other's (a deadlock, which PostgreSQL takes a
# second to find): neither for rows that exist, nor for two new friends each inserted by
# both, nor for a deletion (削除する), whose trigger takes RESIDENTS_LOCK while another
# transaction holding that lock waits for the deleted resident's row. One resident is no
# exception: a batch of one that skipped it deadlocked that way with a batch of several
# (CI, a double tap on 削除する). ORDER BY n: the locks are taken after sorting.
_LOCK_RESIDENTS_IN_ORDER = text(
    "SELECT pg_advisory_xact_lock(k)"
    " FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)


def resident_lock_keys(line_user_ids: Iterable[str]) -> list[int]:
    """The sorted 64-bit lock keys of these LINE users."""
    keys = {
        int.from_bytes(
            hashlib.blake2b(f"todoku:resident:{u}".encode(), digest_size=8).digest(),
            "big",
            signed=True,
        )
        for u in line_user_ids
    }
    return sorted(keys)


def lock_residents(session: Session, line_user_ids: Iterable[str]) -> None:
    """PostgreSQL: hold these residents (by LINE user id) until the transaction ends, taken
    in one order everywhere. SQLite: nothing to do (one writer). Sent on the session's
    connection: nothing of the session's is read or written, and Session.execute's own
    machinery (autoflush, events, result wrapping) was over half the statement's client
    CPU in a webhook batch."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if keys := resident_lock_keys(line_user_ids):
        session.connection().execute(_LOCK_RESIDENTS_IN_ORDER, {"keys": keys})


# name: forget-webhook-claims
# Claims (webhook_events) received before the cutoff, at most `limit` of them: a claim only
# has to outlive LINE's redeliveries of its event, and the table would otherwise keep a row
# for every event ever received. No index on received_at: the subquery reads the table
# until it has `limit` rows, the oldest rows coming first in the order they were written
# (PostgreSQL may put newer rows in the space of deleted ones: a scan of ~30 days of
# claims per chunk at worst, nightly).
def forget_webhook_claims(before: dt.datetime, limit: int) -> Delete:
    """DELETE at most `limit` webhook claims received before `before`."""
    claims = WebhookEvent.__table__.c
    old = select(claims.webhook_event_id).where(claims.received_at < before).limit(limit)
    return delete(WebhookEvent).where(claims.webhook_event_id.in_(old.scalar_subquery()))


# name: new-friend
# A follow of someone unknown: only the LINE id, the language to answer in and the follow.
# A Core INSERT, not an ORM object: the session's flush of a new Resident cost ~1 ms more
# per follow (measured; the handler never uses the row afterwards).
_NEW_FRIEND = insert(Resident.__table__)


def new_friend() -> Insert:
    """Insert a resident known by LINE id only (parameters: line_user_id, following,
    followed_at, language); the other columns take their defaults (not consented)."""
    return _NEW_FRIEND


# name: record-activity
# One anonymous KPI fact per row (no resident id). A Core INSERT for the same reason.
_RECORD_ACTIVITY = insert(ResidentActivity.__table__)


def record_activity() -> Insert:
    """Insert one anonymous activity (parameters: kind, occurred_at)."""
    return _RECORD_ACTIVITY


# name: claim-events
# Many events claimed by one statement (executemany with RETURNING, SQLite >= 3.35): an id
# already there (a redelivery, or another process's twin, which PostgreSQL waits for) is
# skipped without failing the transaction, and missing from what the statement returns.
@functools.cache
def claim_events(dialect: str):
    """Insert-returning: the webhook event ids newly claimed (parameters, one set per event:
    webhook_event_id, event_type, received_at)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = WebhookEvent.__table__
    return dialect_insert(table).on_conflict_do_nothing().returning(table.c.webhook_event_id)


# name: add-reply
# The reply row is inserted with the event's claim, in the same transaction. Built once, as
# resident-by-line-id: an INSERT built per event had its cache key computed again each time.
_ADD_REPLY = insert(ReplyOutbox.__table__)


def add_reply() -> Insert:
    """Insert one outbox row (parameters: every ReplyOutbox column but last_error)."""
    return _ADD_REPLY


# name: claim-due-replies
# One statement takes the rows whose lease ran out and extends it: concurrent sweepers of
# several processes never send the same row at once (PostgreSQL re-checks the lease after
# waiting for a competing UPDATE's row lock; SQLite has one writer). RETURNING hands back
# what to send without a second round trip (SQLite >= 3.35).
def claim_due_replies(now: dt.datetime, lease_until: dt.datetime, limit: int, event_id=None):
    """Update-returning: take up to `limit` pending replies whose lease ended before `now`."""
    due = select(_outbox.webhook_event_id).where(
        _outbox.status == "pending", _outbox.lease_until < now
    )
    if event_id is not None:
        due = due.where(_outbox.webhook_event_id == event_id)
    due = due.order_by(_outbox.lease_until).limit(limit)
    return (
        update(ReplyOutbox.__table__)
        .where(_outbox.webhook_event_id.in_(due.scalar_subquery()), _outbox.lease_until < now)
        .values(lease_until=lease_until, attempts=_outbox.attempts + 1)
        .returning(
            _outbox.webhook_event_id,
            _outbox.line_user_id,
            _outbox.reply_token,
            _outbox.messages,
            _outbox.retry_key,
            _outbox.received_at,
            _outbox.attempts,
        )
    )


# name: delete-sent-replies
# Sent replies are deleted in batches (one statement per up to a few dozen sends under
# load), so sending costs one write per batch instead of one per reply. Built once with an
# expanding parameter: building it per webhook batch (and SQLAlchemy computing its cache
# key again) cost as much as running it.
_DELETE_SENT_REPLIES = delete(ReplyOutbox.__table__).where(
    _outbox.webhook_event_id.in_(bindparam("event_ids", expanding=True))
)


def delete_sent_replies() -> Delete:
    """Delete the outbox rows of these sent replies (parameter: event_ids, a list)."""
    return _DELETE_SENT_REPLIES


# name: fail-reply
# LINE refused the reply for good (or its retry key is older than LINE's 24 h): keep the
# row for the operator's count, without the messages (they may name the resident's answers).
def fail_reply(event_id: str, reason: str):
    """Mark one outbox row failed and clear its messages."""
    return (
        update(ReplyOutbox.__table__)
        .where(_outbox.webhook_event_id == event_id)
        .values(status="failed", messages="[]", last_error=reason[:200])
    )


# --- Health and readiness (bot.store.health) ---------------------------------------------


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at; raises when it has no Todoku tables."""
    return conn.scalar(text("SELECT version_num FROM alembic_version"))


def probe_write(conn: Connection) -> None:
    """A write that changes nothing (the caller rolls it back): fails when the database is
    read-only. alembic_version has one row, so it is the cheapest real write there is."""
    conn.execute(text("UPDATE alembic_version SET version_num = version_num"))


# --- Clicks (bot.clicks) -----------------------------------------------------------------


def record_click(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert one click unless its visit_key is there already; True if it was counted.

    ON CONFLICT DO NOTHING on the unique visit_key: a replay of the same link by the same
    visitor on the same day is no new visit, and twin requests cannot collide (no 500).
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(Click.__table__).values(**values)
    result = conn.execute(statement.on_conflict_do_nothing(index_elements=["visit_key"]))
    return result.rowcount == 1
