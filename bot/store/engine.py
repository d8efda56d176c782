"""Engine and session factory for SQLite (default) and PostgreSQL.

Every database call is bounded in time, so a locked, frozen or unreachable database makes
a request fail fast (LINE then redelivers) instead of holding it: PostgreSQL gets a
connect_timeout and a statement_timeout, SQLite a busy timeout. SQL parameters never
appear in error texts (hide_parameters), so resident data cannot leak into logs.

A SQLite database file is only created by `todoku db upgrade` (`create=True`); any other
process opening a missing file fails instead of leaving an empty database behind, and a
file deleted or replaced under a running process is noticed at the next checkout (the
process would otherwise keep writing into the deleted file, and those writes would be lost).
"""

from __future__ import annotations

import os
import select
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import SettingsError

# Seconds a statement (PostgreSQL) or a wait for SQLite's write lock may take.
# CLI and scheduler: long enough for a million-resident import or a large slot.
DEFAULT_TIMEOUT = 600.0
# The web process: LINE gives up on a webhook after 2 s; fail soon after, so it redelivers.
WEB_TIMEOUT = 3.0
CONNECT_TIMEOUT = 5  # seconds (libpq's connect_timeout is whole seconds)
SQLITE_DEFAULT_BUSY = 30.0  # SQLite's lock wait outside the web process


def make_engine(
    url: str, *, timeout: float | None = DEFAULT_TIMEOUT, create: bool = False
) -> Engine:
    """An engine with the settings each backend needs to be safe under concurrency.

    `timeout`: seconds per statement (PostgreSQL) / lock wait (SQLite); None: no limit.
    `create`: create the SQLite file now if it is missing (only `todoku db upgrade`, the demo
    and tests do); connections never create it, so a deleted file stays deleted.
    """
    try:
        parsed = make_url(url)
        parsed.get_dialect()  # an unknown database or a driver that is not installed
    except (ArgumentError, NoSuchModuleError, ImportError):
        raise SettingsError(
            "DATABASE_URL",
            "is not a database URL Todoku can use; write e.g. sqlite:///todoku.db or "
            "postgresql+psycopg://USER@HOST/DBNAME",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        busy = SQLITE_DEFAULT_BUSY if timeout is None else min(timeout, SQLITE_DEFAULT_BUSY)
        path = sqlite_file(url)
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": busy}}
        if path is not None:
            if create and not path.exists():
                sqlite3.connect(f"{path.resolve().as_uri()}?mode=rwc", uri=True).close()
            kwargs["creator"] = partial(_connect_sqlite, path, busy)
        engine = create_engine(parsed, hide_parameters=True, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        if path is not None:
            event.listen(engine, "connect", partial(_remember_file, path))
            event.listen(engine, "checkout", partial(_same_file, path))
        return engine
    connect_args: dict = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
        if timeout is not None and "options" not in parsed.query:
            ms = int(timeout * 1000)
            connect_args["options"] = f"-c statement_timeout={ms} -c lock_timeout={ms}"
    psycopg = parsed.get_driver_name() == "psycopg"
    engine = create_engine(
        # Other drivers: SQLAlchemy's pre-ping (a round trip per checkout).
        parsed,
        pool_pre_ping=not psycopg,
        hide_parameters=True,
        connect_args=connect_args,
    )
    if psycopg:
        event.listen(engine, "checkout", _still_connected)
    return engine


def _still_connected(dbapi_connection, _record, _proxy) -> None:
    """Refuse a pooled PostgreSQL connection the server has closed (restart, failover,
    pg_terminate_backend, an idle timeout): the pool then opens a new one.

    Instead of SQLAlchemy's pre-ping (a `SELECT 1` round trip per checkout, ~1 ms of a
    webhook's CPU on PostgreSQL, docs/benchmarks.md): an idle connection never has
    anything to read, so a readable socket means the server hung up or said why it does
    ("terminating connection due to administrator command"). A connection that broke
    silently (a cable pulled, no FIN) is not seen here — nor was it by the ping, which
    waited on it the same way as the statement that now finds out.
    """
    try:
        pgconn = dbapi_connection.pgconn
        broken = dbapi_connection.closed or pgconn.status != 0  # ConnStatus.OK
        if not broken:
            # poll, not select: select refuses descriptors above 1023.
            poller = select.poll()
            poller.register(pgconn.socket, select.POLLIN)
            broken = bool(poller.poll(0))  # data, or POLLHUP / POLLERR
    except Exception:  # psycopg's "the connection is closed", a bad descriptor
        broken = True
    if broken:
        raise DisconnectionError("the PostgreSQL server closed this pooled connection")


def sqlite_file(url: str) -> Path | None:
    """The file of a plain SQLite URL (not in-memory, not a `file:` URI), else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("uri") or database.startswith("file:"):
        return None
    return Path(database)


def _connect_sqlite(path: Path, busy: float) -> sqlite3.Connection:
    # mode=rw: opening a missing file fails instead of creating an empty database, also
    # when the file was deleted under a running process.
    uri = f"{path.resolve().as_uri()}?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=busy, check_same_thread=False)


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _remember_file(path: Path, _dbapi_connection, record) -> None:
    record.info["file_id"] = _file_id(path)


def _same_file(path: Path, _dbapi_connection, record, _proxy) -> None:
    # A connection to a deleted (or replaced) file would write where nobody reads: drop it;
    # the pool then reconnects, which fails while the file is missing (mode=rw).
    if _file_id(path) != record.info.get("file_id"):
        raise DisconnectionError("the SQLite database file was deleted or replaced")


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # Foreign keys are off by default in SQLite; ON DELETE CASCADE needs them for the
    # "delete all my data" promise. WAL lets the web and scheduler processes read while
    # one writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session
