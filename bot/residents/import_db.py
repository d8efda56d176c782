"""Writing imported residents: rows straight to the driver, ids assigned, not read back.

Core's per-row parameter handling costs more than the database itself at a million rows
(measured: 11,000 residents/s through Core executemany on both databases), so rows go to
the driver: executemany on SQLite, binary COPY on PostgreSQL. Each resident's id is known
without reading the rows back, so children and interests follow at once. The statements
are the store's (bot.store.import_queries); this module turns chunks into their rows.

Duplicates against the database are left to the unique index on ``line_user_id``: a
clash raises IntegrityError, the caller rolls back and then asks ``already_registered``
which lines clashed (a separate lookup per chunk cost 1.9 s per million on SQLite and
4.5 s on PostgreSQL, to find what the index finds anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Protocol

from sqlalchemy import Connection

from bot.residents.import_lines import PROFILE_KEYS, RESIDENT_KEYS, Chunk
from bot.store import import_queries as sql
from bot.store.queries import last_resident_id

RESIDENTS, CHILDREN, INTERESTS = "residents", "resident_children", "resident_interests"
CHILD_KEYS = ("resident_id", "birth_date")
INTEREST_KEYS = ("resident_id", "topic")
# Every imported resident is registered, consented and following (contracts.md); a family
# profile has its account's values (it mirrors them, bot.store.models.Resident).
CONSTANT_KEYS = ("following", "followed_at", "consented_at", "registered_at", "notices_paused")
# PostgreSQL's COPYs: the table each fills and its columns, in the order of the rows built.
PROFILES = "family profiles"  # residents rows too, with guardian_id and label
COPIES = {
    RESIDENTS: (RESIDENTS, ("id", *RESIDENT_KEYS, *CONSTANT_KEYS)),
    PROFILES: (RESIDENTS, ("id", *PROFILE_KEYS, *CONSTANT_KEYS)),
    CHILDREN: (CHILDREN, CHILD_KEYS),
    INTERESTS: (INTERESTS, INTEREST_KEYS),
}


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
        with sql.page_cache(conn):
            yield _SqliteWriter(conn, now)


def already_registered(conn: Connection, users: list[tuple[str, int]]) -> list[tuple[int, str]]:
    """(line number, problem) for each (LINE user id, line number) already in the database."""
    numbers = dict(users)
    found = sql.line_ids_in_use(conn, list(numbers))
    return [
        (numbers[u], f"line {numbers[u]}: line_user_id {u} is already in the database")
        for u in found
    ]


def _constants(now: dt.datetime) -> tuple:
    return (True, now, now, now, False)  # CONSTANT_KEYS


class _SqliteWriter:
    """executemany through the driver, values in SQLAlchemy's SQLite storage formats."""

    def __init__(self, conn: Connection, now: dt.datetime) -> None:
        self.conn = conn
        # Converted once: the same moment for every row (Timestamp stores UTC text).
        self.constants = _constants(sql.stored_timestamp(conn, now))
        self.residents_sql = sql.insert_rows(RESIDENTS, RESIDENT_KEYS + CONSTANT_KEYS)
        self.profiles_sql = sql.insert_rows(RESIDENTS, PROFILE_KEYS + CONSTANT_KEYS)
        self.children_sql = sql.insert_rows(CHILDREN, CHILD_KEYS)
        self.interests_sql = sql.insert_rows(INTERESTS, INTEREST_KEYS)

    def write(self, chunk: Chunk) -> None:
        """Residents, then their children and interests (dates: SQLite's "YYYY-MM-DD")."""
        if not chunk.residents:
            return
        constants = self.constants
        sql.insert_many(self.conn, self.residents_sql, [row + constants for row in chunk.residents])
        first = self._first_id(chunk)
        if chunk.children:
            children = [(first + i, birth) for i, birth in chunk.children]
            sql.insert_many(self.conn, self.children_sql, children)
        if chunk.interests:
            interests = [(first + i, topic) for i, topic in chunk.interests]
            sql.insert_many(self.conn, self.interests_sql, interests)
        if chunk.profiles:
            self._write_profiles(chunk, first)

    def _write_profiles(self, chunk: Chunk, first: int) -> None:
        """Family profiles after their accounts (whose ids are known now), the same way."""
        rows = [(first + account, *rest) for account, *rest in chunk.profiles]
        sql.insert_many(self.conn, self.profiles_sql, [row + self.constants for row in rows])
        last = self.conn.scalar(last_resident_id())
        start = last - len(rows) + 1
        ends = self.conn.execute(sql.profiles_at([start, last]))
        if set(map(tuple, ends)) != {tuple(rows[0][:2]), tuple(rows[-1][:2])}:
            raise RuntimeError("residents import: the new rows' ids are not consecutive")
        if chunk.profile_children:
            children = [(start + i, birth) for i, birth in chunk.profile_children]
            sql.insert_many(self.conn, self.children_sql, children)
        if chunk.profile_interests:
            interests = [(start + i, topic) for i, topic in chunk.profile_interests]
            sql.insert_many(self.conn, self.interests_sql, interests)

    def _first_id(self, chunk: Chunk) -> int:
        """The id of the chunk's first resident: they were numbered max(id) + 1, + 2, …

        A rowid table without AUTOINCREMENT gives each new row max(rowid) + 1, and the
        transaction has held SQLite's single write lock since the insert's first row, so
        nobody else's rows are among ours. Both ends are checked (two key lookups).
        """
        last = self.conn.scalar(last_resident_id())
        first = last - len(chunk.residents) + 1
        found = set(self.conn.execute(sql.line_ids_at([first, last])).scalars())
        if found != {chunk.residents[0][0], chunk.residents[-1][0]}:
            raise RuntimeError("residents import: the new rows' ids are not consecutive")
        return first

    def finish(self) -> None:
        """Nothing left to do on SQLite."""


class _PostgresWriter:
    """Binary COPY with ids taken from the residents' sequence beforehand.

    `bulk`: the foreign keys from resident_children and resident_interests to residents
    are dropped for the import and added back (validated) before commit, all in the one
    transaction: one check of every row instead of one per row (figures at
    bot.store.import_queries.drop_child_keys). The price: the tables are locked (ACCESS
    EXCLUSIVE) until the import commits, so the web process waits for it; hence only for
    large files.
    """

    def __init__(self, conn: Connection, now: dt.datetime, *, bulk: bool) -> None:
        self.conn, self.constants = conn, _constants(now)
        self.cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.copies = {name: sql.copy_rows(conn, *copy) for name, copy in COPIES.items()}
        self.sequence = conn.scalar(sql.residents_sequence())
        # Cached: a million rows share a few tens of thousands of distinct dates.
        self.date = lru_cache(maxsize=None)(dt.date.fromisoformat)
        if bulk:
            sql.drop_child_keys(conn)
        self.bulk = bulk

    def write(self, chunk: Chunk) -> None:
        """The chunk's ids from the sequence, then three binary COPYs."""
        if not chunk.residents:
            return
        date, constants = self.date, self.constants
        ids = self._ids(len(chunk.residents))
        self._copy(
            RESIDENTS,
            (
                (i, user, birth and date(birth), *rest, *constants)
                for i, (user, birth, *rest) in zip(ids, chunk.residents, strict=True)
            ),
        )
        self._copy(CHILDREN, ((ids[i], date(birth)) for i, birth in chunk.children))
        self._copy(INTERESTS, ((ids[i], topic) for i, topic in chunk.interests))
        if chunk.profiles:
            # Family profiles: ids of their own, guardian_id their account's id from above.
            own = self._ids(len(chunk.profiles))
            self._copy(
                PROFILES,
                (
                    (i, ids[account], label, birth and date(birth), *rest, *constants)
                    for i, (account, label, birth, *rest) in zip(own, chunk.profiles, strict=True)
                ),
            )
            children = ((own[i], date(birth)) for i, birth in chunk.profile_children)
            self._copy(CHILDREN, children)
            self._copy(INTERESTS, ((own[i], t) for i, t in chunk.profile_interests))

    def _ids(self, count: int) -> list[int]:
        return sql.take_ids(self.cursor, self.sequence, count)

    def _copy(self, name: str, rows: Iterator[tuple]) -> None:
        statement, types = self.copies[name]
        with self.cursor.copy(statement) as copy:
            copy.set_types(types)  # binary: measured 7x faster than text COPY
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        """Add the foreign keys back: one check of every row, before commit."""
        if self.bulk:
            sql.add_child_keys(self.conn)
        self.cursor.close()
