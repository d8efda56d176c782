"""`todoku residents import FILE.jsonl`: bulk-load residents, all or nothing.

One resident per line (contracts.md). Every line is validated — districts and topics
against the configuration — and every bad line is reported with its number and what is
wrong; if any line is bad, nothing is written. Imported residents count as registered,
consented and following.

Keys that may be left out: ``birth_date`` and ``district`` (skipped), ``pregnant`` and
``single_parent`` (false), ``household_size`` (1 + number of children), ``children`` and
``interests`` (none). An explicit ``null`` records a skipped question (``"children":
null`` = the children question was skipped).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from bot.errors import UserError
from bot.models import Resident, ResidentChild, ResidentInterest

CHUNK = 20_000  # rows per executemany: large enough to amortise round trips, small in memory
MAX_PROBLEMS_SHOWN = 200


class BadResidentsFile(UserError):
    """A residents file with bad lines; nothing was imported. Carries every problem."""

    def __init__(self, path: str, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        lines = [f"{path}: {p}" for p in shown] + ([f"… and {more} more"] if more else [])
        lines.append(f"{path}: nothing was imported; fix the lines above and run it again")
        super().__init__("\n".join(lines))
        self.path = path
        self.problems = problems


def _line_type(districts: list[str], topics: list[str]) -> TypeAdapter:
    """A validator for one line; Literal choices keep the whole check inside pydantic-core."""
    District = Literal[tuple(districts)] if districts else str
    Topic = Literal[tuple(topics)] if topics else str
    closed = ConfigDict(extra="forbid")

    class Child(TypedDict):
        __pydantic_config__ = closed  # type: ignore[misc]
        birth_date: dt.date

    class Line(TypedDict):
        __pydantic_config__ = closed  # type: ignore[misc]
        line_user_id: Annotated[str, StringConstraints(pattern=r"^U[0-9a-f]{32}$")]
        birth_date: NotRequired[dt.date | None]
        district: NotRequired[District | None]  # type: ignore[valid-type]
        household_size: NotRequired[Annotated[int, Field(ge=1, le=99)] | None]
        pregnant: NotRequired[bool | None]
        single_parent: NotRequired[bool | None]
        children: NotRequired[Annotated[list[Child], Field(max_length=20)] | None]
        interests: NotRequired[list[Topic]]  # type: ignore[valid-type]

    return TypeAdapter(Line)


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors(include_url=False):
        where = ".".join(map(str, e["loc"]))
        parts.append(f"{where}: {e['msg']}" if where else e["msg"])
    return "; ".join(parts)


RESIDENT_KEYS = (
    "line_user_id", "following", "followed_at", "consented_at", "registered_at",
    "birth_date", "district", "household_size", "pregnant", "single_parent",
    "children_answered", "notices_paused",
)  # fmt: skip


def _rows(line: dict[str, Any], now: dt.datetime) -> tuple[tuple, list[dt.date], list[str]]:
    """The residents row (RESIDENT_KEYS), the children's birth dates, the interests."""
    children = line.get("children", [])
    births = [c["birth_date"] for c in children or ()]
    resident = (
        line["line_user_id"], True, now, now, now,
        line.get("birth_date"), line.get("district"),
        line.get("household_size", 1 + len(births)),
        line.get("pregnant", False), line.get("single_parent", False),
        children is not None, False,
    )  # fmt: skip
    return resident, births, sorted(set(line.get("interests", ())))


def _parse(path: Path, validator: TypeAdapter) -> Iterator[tuple[int, dict | str]]:
    """(line number, valid line or problem) for each non-blank line of the file."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if raw.strip():
                try:
                    yield number, validator.validate_json(raw)
                except ValidationError as error:
                    yield number, f"line {number}: {_describe(error)}"


def _already_registered(conn: Connection, batch: list[tuple[int, dict]]) -> list[str]:
    """Problems for lines whose LINE user id is already in the database."""
    numbers = {line["line_user_id"]: number for number, line in batch}
    column = Resident.__table__.c.line_user_id
    # One bound value per chunk, not 20,000: an IN list that long cost more to build and
    # parse than the lookup itself (measured 1.4 s per 100,000 residents on PostgreSQL).
    if conn.dialect.name == "postgresql":
        given = any_(bindparam("users", list(numbers), type_=ARRAY(String)))
        found = conn.execute(select(column).where(column == given)).scalars().all()
    else:
        each = func.json_each(json.dumps(list(numbers))).table_valued("value")
        found = conn.execute(select(column).where(column.in_(select(each.c.value)))).scalars().all()
    return [f"line {numbers[u]}: line_user_id {u} is already in the database" for u in found]


class _Bulk:
    """Write plain tuples to one table through the driver: COPY on PostgreSQL, else executemany.

    Core's per-row parameter handling costs more than the database itself at a million
    rows (measured: 11,000 residents/s through Core executemany on both databases), so
    rows go to the driver directly. SQLite gets the Core insert() compiled for its dialect
    and each column type's own bind processor (dates become SQLAlchemy's storage format);
    PostgreSQL gets a binary COPY FROM STDIN, which psycopg feeds with native Python values.
    """

    def __init__(self, conn: Connection, table: Table, keys: tuple[str, ...]) -> None:
        self.conn, self.keys = conn, keys
        quote = conn.dialect.identifier_preparer
        self.copy = None
        if conn.dialect.name == "postgresql":
            names = ", ".join(quote.quote(k) for k in keys)
            self.copy = f"COPY {quote.format_table(table)} ({names}) FROM STDIN (FORMAT BINARY)"
            # Binary COPY needs each column's type; psycopg knows them by their SQL names.
            compiled_types = (table.c[k].type.compile(dialect=conn.dialect) for k in keys)
            self.types = [re.sub(r"\(.*\)", "", t).lower() for t in compiled_types]
        compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(keys))
        self.sql = str(compiled)
        # A positional paramstyle (SQLite's ?) takes values in the compiled statement's order.
        self.order = [keys.index(k) for k in compiled.positiontup] if compiled.positional else None
        # Cached: a million rows share a few thousand distinct birth dates.
        self.convert = [_processor(table.c[key].type, conn.dialect) for key in keys]

    def __call__(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.copy is not None:
            cursor = self.conn.connection.driver_connection.cursor()
            with cursor, cursor.copy(self.copy) as copy:
                copy.set_types(self.types)  # binary: measured 7x faster than text COPY
                for row in rows:
                    copy.write_row(row)
            return
        columns = list(zip(*rows, strict=True))  # column-wise: one processor call per value
        for i, process in enumerate(self.convert):
            if process is not None:  # SQLAlchemy's processors pass None through
                columns[i] = tuple(map(process, columns[i]))
        if self.order is None:
            params: list = [
                dict(zip(self.keys, r, strict=True)) for r in zip(*columns, strict=True)
            ]
        else:
            params = list(zip(*(columns[i] for i in self.order), strict=True))
        self.conn.exec_driver_sql(self.sql, params)


def _processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return None if process is None else lru_cache(maxsize=65_536)(process)


def _insert(conn: Connection, batch: list[tuple[int, dict]], now: dt.datetime) -> None:
    """Insert one chunk of valid lines: residents, then their children and interests."""
    rows = [_rows(line, now) for _, line in batch]
    residents = Resident.__table__
    before = conn.scalar(select(func.max(residents.c.id))) or 0
    _Bulk(conn, residents, RESIDENT_KEYS)([resident for resident, _, _ in rows])
    # Read the new ids back: ids come from an increasing sequence (rowid / SERIAL), so all
    # of ours are above the largest id before the insert. Rows that other processes
    # inserted meanwhile may show up too; the lookup by LINE user id ignores them.
    new = select(residents.c.line_user_id, residents.c.id).where(residents.c.id > before)
    ids = dict(conn.execute(new).all())
    _Bulk(conn, ResidentChild.__table__, ("resident_id", "birth_date"))(
        [(ids[r[0]], birth) for r, births, _ in rows for birth in births]
    )
    _Bulk(conn, ResidentInterest.__table__, ("resident_id", "topic"))(
        [(ids[r[0]], topic) for r, _, topics in rows for topic in topics]
    )


@contextmanager
def _transaction(target: Session | Engine) -> Iterator[Connection]:
    """One transaction (a savepoint inside a caller's Session): rolled back on any error."""
    if isinstance(target, Session):
        with target.begin_nested():
            yield target.connection()
    else:
        with target.begin() as conn:
            yield conn


@contextmanager
def _bulk_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a page cache that holds a million-row unique index while importing.

    SQLite's default cache is 2 MiB; inserting random LINE user ids into the unique index
    then evicts and re-reads index pages for every row (measured: 11,000 residents/s at a
    million instead of 34,000/s at 100,000). PostgreSQL uses its shared buffers instead.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size = -262144")  # KiB: 256 MiB
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def import_residents(
    target: Session | Engine,
    path: str | Path,
    config: Any,
    *,
    now: dt.datetime | None = None,
    chunk: int = CHUNK,
) -> int:
    """Import a JSON Lines file of residents; return how many; raise BadResidentsFile."""
    town = config.municipality
    validator = _line_type(list(town.districts), list(town.topics))
    now = now or dt.datetime.now(dt.UTC)
    problems: list[str] = []
    first_line: dict[str, int] = {}
    count, batch = 0, []
    with _transaction(target) as conn, _bulk_cache(conn):
        for number, item in _parse(Path(path), validator):
            if isinstance(item, str):
                problems.append(item)
            elif (first := first_line.setdefault(item["line_user_id"], number)) != number:
                user = item["line_user_id"]
                problems.append(f"line {number}: line_user_id {user} is also on line {first}")
            else:
                batch.append((number, item))
            if len(batch) >= chunk:
                problems += _flush(conn, batch, now, write=not problems)
                count, batch = count + len(batch), []
        problems += _flush(conn, batch, now, write=not problems)
        count += len(batch)
        if problems:
            raise BadResidentsFile(str(path), problems)  # rolls the transaction back
    return count


def _flush(conn: Connection, batch: list, now: dt.datetime, *, write: bool) -> list[str]:
    """Check a chunk against the database; insert it while the file has no problem yet.

    After the first problem the file keeps being validated (every bad line is reported)
    but nothing more is written, and the transaction is rolled back at the end.
    """
    if not batch:
        return []
    taken = _already_registered(conn, batch)
    if write and not taken:
        _insert(conn, batch, now)
    return taken


def import_command(wiring: Any, path: str) -> int:
    """`todoku residents import FILE.jsonl`: print the outcome, return the exit code."""
    if not Path(path).is_file():
        print(f"{path}: no such file; give the path of a JSON Lines file", file=sys.stderr)
        return 1
    try:
        count = import_residents(wiring.engine, path, wiring.config, now=wiring.clock.now())
    except BadResidentsFile as error:
        print(error, file=sys.stderr)
        return 1
    print(f"imported {count} residents from {path}")
    return 0
