"""The JSONL import's SQL (bot.residents.import_db writes through it): driver-level bulk
inserts and COPY, the ids they take, SQLite's page cache, the foreign keys PostgreSQL
drops for a large file, and the look-up of LINE user ids already registered.

Rows bypass SQLAlchemy's per-row parameter handling, which costs more than the database
itself at a million rows (measured: 11,000 residents/s through Core executemany on both
databases): executemany straight on the driver on SQLite, binary COPY on PostgreSQL.
Callers pass the columns a row holds, in its order; the statements here name the tables.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    ForeignKeyConstraint,
    Select,
    String,
    Table,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.schema import AddConstraint, DropConstraint

from bot.store.models import Resident, ResidentChild, ResidentInterest

RESIDENTS: Table = Resident.__table__  # type: ignore[assignment]
CHILDREN: Table = ResidentChild.__table__  # type: ignore[assignment]
INTERESTS: Table = ResidentInterest.__table__  # type: ignore[assignment]
TABLES = {t.name: t for t in (RESIDENTS, CHILDREN, INTERESTS)}

_residents = RESIDENTS.c


# name: line-ids-in-use
# Which of the given LINE user ids the database already has: asked only after an import
# failed on the unique index (the index finds a clash anyway; a look-up per chunk cost
# 1.9 s per million on SQLite, 4.5 s on PostgreSQL). One bound value, not a million: an IN
# list that long costs more to build and parse than the look-up itself.
def line_ids_in_use(conn: Connection, line_user_ids: list[str]) -> list[str]:
    """The given LINE user ids that residents rows already hold."""
    column = _residents.line_user_id
    if conn.dialect.name == "postgresql":
        given = any_(bindparam("users", line_user_ids, type_=ARRAY(String)))
        return list(conn.execute(select(column).where(column == given)).scalars())
    each = func.json_each(json.dumps(line_user_ids)).table_valued("value")
    return list(conn.execute(select(column).where(column.in_(select(each.c.value)))).scalars())


# name: stored-timestamp
# SQLite's executemany bypasses SQLAlchemy's type processing, so a moment goes in as the
# text the Timestamp type would store (UTC), converted once for every row of the import.
def stored_timestamp(conn: Connection, moment: dt.datetime) -> Any:
    """`moment` as the driver receives a residents timestamp column on this database."""
    column_type = _residents.followed_at.type.dialect_impl(conn.dialect)
    convert = column_type.bind_processor(conn.dialect)
    return convert(moment) if convert else moment


# name: insert-rows
# SQLite: one executemany of plain tuples on the driver (qmark placeholders), the row's
# columns in the caller's order, past Core's per-row parameter handling (see above).
def insert_rows(table: str, keys: tuple[str, ...]) -> str:
    """INSERT INTO `table` (keys) VALUES (?, …), for Connection.exec_driver_sql."""
    names = ", ".join(TABLES[table].c[k].name for k in keys)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(keys))})"


def insert_many(conn: Connection, statement: str, rows: list[tuple]) -> None:
    """Run an insert_rows statement for every row: one executemany on the driver."""
    conn.exec_driver_sql(statement, rows)


# name: ids-at
# SQLite numbers new rows max(rowid) + 1, + 2, … (no AUTOINCREMENT) and the import holds
# the single write lock, so a chunk's ids follow from the highest id after its insert
# (bot.store.queries.last_resident_id). These two key look-ups check both ends.
def line_ids_at(ids: list[int]) -> Select[tuple[str]]:
    """Select the LINE user ids of the residents with these ids."""
    return select(_residents.line_user_id).where(_residents.id.in_(ids))


# name: profiles-at
# The same check for a chunk's family profiles, which have no LINE user id of their own:
# an account's profiles differ by label.
def profiles_at(ids: list[int]) -> Select[tuple[int, str]]:
    """Select (guardian_id, label) of the residents with these ids."""
    return select(_residents.guardian_id, _residents.label).where(_residents.id.in_(ids))


# name: page-cache
# A PRAGMA for this connection only; the previous size is restored afterwards.
@contextmanager
def page_cache(conn: Connection) -> Iterator[None]:
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


# name: residents-sequence
# PostgreSQL: the import takes its ids from the residents' own sequence (below), so rows
# the web process inserts meanwhile never collide with them.
def residents_sequence() -> Select[tuple[str]]:
    """Select the name of the sequence behind residents.id."""
    return select(func.pg_get_serial_sequence(RESIDENTS.name, "id"))


# name: take-ids
# A chunk's ids in one round trip before its COPY, so children, interests and profiles
# name their resident without reading rows back; on the driver's cursor (psycopg), which
# the COPYs use too.
def take_ids(cursor: Any, sequence: str, count: int) -> list[int]:
    """`count` new ids from `sequence`, in order."""
    sql = "SELECT nextval(%s::regclass) FROM generate_series(1, %s)"
    return [i for (i,) in cursor.execute(sql, (sequence, count))]


# name: copy-rows
# PostgreSQL: binary COPY (measured 7x faster than text COPY), which needs each column's
# type; psycopg knows the types by their SQL names without the length ("varchar").
def copy_rows(conn: Connection, table: str, keys: tuple[str, ...]) -> tuple[str, list[str]]:
    """COPY `table` (keys) FROM STDIN (FORMAT BINARY) and the columns' types."""
    columns = TABLES[table].c
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(k) for k in keys)
    sql = f"COPY {quote.format_table(TABLES[table])} ({names}) FROM STDIN (FORMAT BINARY)"
    compiled = (columns[k].type.compile(dialect=conn.dialect) for k in keys)
    return sql, [re.sub(r"\(.*\)", "", t).lower() for t in compiled]


def _child_keys() -> list[ForeignKeyConstraint]:
    return [fk for t in (CHILDREN, INTERESTS) for fk in t.foreign_key_constraints]


# name: drop-child-keys
# PostgreSQL, large files: the foreign keys from resident_children and resident_interests
# to residents are dropped for the load, in the import's transaction. Their per-row checks
# (a trigger running SELECT … FOR KEY SHARE) made 1.5 million interests take 11.5 s
# instead of 1.8 s (the manual's "Populating a Database" advice). The tables stay locked
# (ACCESS EXCLUSIVE) until the import commits.
def drop_child_keys(conn: Connection) -> None:
    """Drop the children's and interests' foreign keys to residents."""
    for key in _child_keys():
        conn.execute(DropConstraint(key))


# name: add-child-keys
# Added back (validated) before commit: one check of every row in one join (0.5 s at a
# million) instead of one per row.
def add_child_keys(conn: Connection) -> None:
    """Add back the foreign keys drop_child_keys dropped."""
    for key in _child_keys():
        conn.execute(AddConstraint(key))
