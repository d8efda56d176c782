"""Writing imported residents: rows straight to the driver, ids assigned, not read back.

Core's per-row parameter handling costs more than the database itself at a million rows
(measured: 11,000 residents/s through Core executemany on both databases), so rows go to
the driver: executemany on SQLite, binary COPY on PostgreSQL. Each resident's id is known
without reading the rows back, so children and interests follow at once.

Duplicates against the database are left to the unique index on ``line_user_id``: a
clash raises IntegrityError, the caller rolls back and then asks ``already_registered``
which lines clashed (a separate lookup per chunk cost 1.9 s per million on SQLite and
4.5 s on PostgreSQL, to find what the index finds anyway).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Protocol

from sqlalchemy import ARRAY, Connection, String, Table, any_, bindparam, func, select
from sqlalchemy.schema import AddConstraint, DropConstraint

from bot.residents.import_lines import PROFILE_KEYS, RESIDENT_KEYS, Chunk
from bot.store.models import Resident, ResidentChild, ResidentInterest

RESIDENTS: Table = Resident.__table__  # type: ignore[assignment]
CHILDREN: Table = ResidentChild.__table__  # type: ignore[assignment]
INTERESTS: Table = ResidentInterest.__table__  # type: ignore[assignment]
# Every imported resident is registered, consented and following (contracts.md); a family
# profile has its account's values (it mirrors them, bot.store.models.Resident).
CONSTANT_KEYS = ("following", "followed_at", "consented_at", "registered_at", "notices_paused")


class Writer(Protocol):
    """Writes chunks of valid lines inside the caller's transaction."""

    def write(self, chunk: Chunk) -> None: ...

    def finish(self) -> None: ...


@contextmanager
def writer(conn: Connection, now: dt.datetime, *, bulk: bool) -> Iterator[Writer]:
    """The writer for the connection's database; `bulk` when the file is large."""
    if conn.dialect.name == "postgresql":
        yield _PostgresWriter(conn, now, bulk=bulk)
    else:
        with _page_cache(conn):
            yield _SqliteWriter(conn, now)


def already_registered(conn: Connection, users: list[tuple[str, int]]) -> list[tuple[int, str]]:
    """(line number, problem) for each (LINE user id, line number) already in the database."""
    numbers = dict(users)
    column = RESIDENTS.c.line_user_id
    # One bound value, not a million: an IN list that long costs more to build and parse
    # than the lookup itself.
    if conn.dialect.name == "postgresql":
        given = any_(bindparam("users", list(numbers), type_=ARRAY(String)))
        found = conn.execute(select(column).where(column == given)).scalars().all()
    else:
        each = func.json_each(json.dumps(list(numbers))).table_valued("value")
        found = conn.execute(select(column).where(column.in_(select(each.c.value)))).scalars().all()
    return [(numbers[u], f"line {numbers[u]}: line_user_id {u} is already in the database")
            for u in found]  # fmt: skip


def _constants(now: dt.datetime) -> tuple:
    return (True, now, now, now, False)  # CONSTANT_KEYS


class _SqliteWriter:
    """executemany through the driver, values in SQLAlchemy's SQLite storage formats."""

    def __init__(self, conn: Connection, now: dt.datetime) -> None:
        self.conn = conn
        # Converted once: the same moment for every row (Timestamp stores UTC text).
        convert = RESIDENTS.c.followed_at.type.dialect_impl(conn.dialect).bind_processor(
            conn.dialect
        )
        moment = convert(now) if convert else now
        self.constants = (True, moment, moment, moment, False)
        self.sql = _insert_sql(RESIDENTS, RESIDENT_KEYS + CONSTANT_KEYS)
        self.profiles_sql = _insert_sql(RESIDENTS, PROFILE_KEYS + CONSTANT_KEYS)
        self.children_sql = _insert_sql(CHILDREN, ("resident_id", "birth_date"))
        self.interests_sql = _insert_sql(INTERESTS, ("resident_id", "topic"))

    def write(self, chunk: Chunk) -> None:
        """Residents, then their children and interests (dates: SQLite's "YYYY-MM-DD")."""
        if not chunk.residents:
            return
        constants = self.constants
        self.conn.exec_driver_sql(self.sql, [row + constants for row in chunk.residents])
        first = self._first_id(chunk)
        if chunk.children:
            children = [(first + i, birth) for i, birth in chunk.children]
            self.conn.exec_driver_sql(self.children_sql, children)
        if chunk.interests:
            interests = [(first + i, topic) for i, topic in chunk.interests]
            self.conn.exec_driver_sql(self.interests_sql, interests)
        if chunk.profiles:
            self._write_profiles(chunk, first)

    def _write_profiles(self, chunk: Chunk, first: int) -> None:
        """Family profiles after their accounts (whose ids are known now), the same way."""
        rows = [(first + account, *rest) for account, *rest in chunk.profiles]
        self.conn.exec_driver_sql(self.profiles_sql, [row + self.constants for row in rows])
        last = self.conn.scalar(select(func.max(RESIDENTS.c.id)))
        start = last - len(rows) + 1
        ends = select(RESIDENTS.c.guardian_id, RESIDENTS.c.label).where(
            RESIDENTS.c.id.in_([start, last])
        )
        if set(map(tuple, self.conn.execute(ends))) != {tuple(rows[0][:2]), tuple(rows[-1][:2])}:
            raise RuntimeError("residents import: the new rows' ids are not consecutive")
        if chunk.profile_children:
            children = [(start + i, birth) for i, birth in chunk.profile_children]
            self.conn.exec_driver_sql(self.children_sql, children)
        if chunk.profile_interests:
            interests = [(start + i, topic) for i, topic in chunk.profile_interests]
            self.conn.exec_driver_sql(self.interests_sql, interests)

    def _first_id(self, chunk: Chunk) -> int:
        """The id of the chunk's first resident: they were numbered max(id) + 1, + 2, …

        A rowid table without AUTOINCREMENT gives each new row max(rowid) + 1, and the
        transaction has held SQLite's single write lock since the insert's first row, so
        nobody else's rows are among ours. Both ends are checked (two key lookups).
        """
        last = self.conn.scalar(select(func.max(RESIDENTS.c.id)))
        first = last - len(chunk.residents) + 1
        ends = select(RESIDENTS.c.line_user_id).where(RESIDENTS.c.id.in_([first, last]))
        found = set(self.conn.execute(ends).scalars())
        if found != {chunk.residents[0][0], chunk.residents[-1][0]}:
            raise RuntimeError("residents import: the new rows' ids are not consecutive")
        return first

    def finish(self) -> None:
        """Nothing left to do on SQLite."""


@contextmanager
def _page_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a page cache that holds a million-row unique index while importing.

    SQLite's default cache is 2 MiB; inserting random LINE user ids into the unique index
    then evicts and re-reads index pages for every row (measured: 11,000 residents/s at a
    million instead of 34,000/s at 100,000). PostgreSQL uses its shared buffers instead.
    """
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size = -262144")  # KiB: 256 MiB
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def _insert_sql(table: Table, keys: tuple[str, ...]) -> str:
    names = ", ".join(keys)
    return f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(keys))})"


class _PostgresWriter:
    """Binary COPY with ids taken from the residents' sequence beforehand.

    `bulk`: the foreign keys from resident_children and resident_interests to residents
    are dropped for the import and added back (validated) before commit, all in the one
    transaction. Their per-row checks (a trigger running ``SELECT … FOR KEY SHARE``)
    made loading 1.5 million interests take 11.5 s instead of 1.8 s; adding the key back
    checks every row in one join (0.5 s at a million). PostgreSQL's manual suggests the
    same ("Populating a Database: Remove Foreign Key Constraints"). The price: the
    tables are locked (ACCESS EXCLUSIVE) until the import commits, so the web process
    waits for it; hence only for large files.
    """

    def __init__(self, conn: Connection, now: dt.datetime, *, bulk: bool) -> None:
        self.conn, self.constants = conn, _constants(now)
        self.cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.copies = {t.name: _copy_statement(conn, t) for t in (RESIDENTS, CHILDREN, INTERESTS)}
        self.copies[PROFILES] = _copy_statement(conn, RESIDENTS, PROFILES)
        self.sequence = conn.scalar(select(func.pg_get_serial_sequence("residents", "id")))
        # Cached: a million rows share a few tens of thousands of distinct dates.
        self.date = lru_cache(maxsize=None)(dt.date.fromisoformat)
        self.keys = [fk for t in (CHILDREN, INTERESTS) for fk in t.foreign_key_constraints]
        if bulk:
            for key in self.keys:
                conn.execute(DropConstraint(key))
        self.bulk = bulk

    def write(self, chunk: Chunk) -> None:
        """The chunk's ids from the sequence, then three binary COPYs."""
        if not chunk.residents:
            return
        date, constants = self.date, self.constants
        ids = self._ids(len(chunk.residents))
        self._copy(RESIDENTS.name, (
            (i, user, birth and date(birth), *rest, *constants)
            for i, (user, birth, *rest) in zip(ids, chunk.residents, strict=True)
        ))  # fmt: skip
        self._copy(CHILDREN.name, ((ids[i], date(birth)) for i, birth in chunk.children))
        self._copy(INTERESTS.name, ((ids[i], topic) for i, topic in chunk.interests))
        if chunk.profiles:
            # Family profiles: ids of their own, guardian_id their account's id from above.
            own = self._ids(len(chunk.profiles))
            self._copy(PROFILES, (
                (i, ids[account], label, birth and date(birth), *rest, *constants)
                for i, (account, label, birth, *rest) in zip(own, chunk.profiles, strict=True)
            ))  # fmt: skip
            children = ((own[i], date(birth)) for i, birth in chunk.profile_children)
            self._copy(CHILDREN.name, children)
            self._copy(INTERESTS.name, ((own[i], t) for i, t in chunk.profile_interests))

    def _ids(self, count: int) -> list[int]:
        return [i for (i,) in self.cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (self.sequence, count),
        )]  # fmt: skip

    def _copy(self, name: str, rows: Iterator[tuple]) -> None:
        sql, types = self.copies[name]
        with self.cursor.copy(sql) as copy:
            copy.set_types(types)  # binary: measured 7x faster than text COPY
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        """Add the foreign keys back: one check of every row, before commit."""
        if self.bulk:
            for key in self.keys:
                self.conn.execute(AddConstraint(key))
        self.cursor.close()


# The columns each COPY fills, in the order of the rows the writer builds.
PROFILES = "family profiles"  # residents rows too, with guardian_id and label
COPY_KEYS = {
    RESIDENTS.name: ("id", *RESIDENT_KEYS, *CONSTANT_KEYS),
    PROFILES: ("id", *PROFILE_KEYS, *CONSTANT_KEYS),
    CHILDREN.name: ("resident_id", "birth_date"),
    INTERESTS.name: ("resident_id", "topic"),
}


def _copy_statement(
    conn: Connection, table: Table, name: str | None = None
) -> tuple[str, list[str]]:
    """COPY … FROM STDIN (FORMAT BINARY) and its column types, which binary COPY needs."""
    keys = COPY_KEYS[name or table.name]
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(k) for k in keys)
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN (FORMAT BINARY)"
    compiled = (table.c[k].type.compile(dialect=conn.dialect) for k in keys)
    # psycopg knows the types by their SQL names, without the length: "varchar".
    return sql, [re.sub(r"\(.*\)", "", t).lower() for t in compiled]
