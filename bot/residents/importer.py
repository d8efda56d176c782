"""`todoku residents import FILE.jsonl`: bulk-load residents, all or nothing.

One resident per line (contracts.md). Every line is validated — districts and topics
against the configuration — and every bad line is reported with its number and what is
wrong; if any line is bad, nothing is written. Imported residents count as registered,
consented and following.

Keys that may be left out: ``birth_date`` and ``district`` (skipped), ``pregnant`` and
``single_parent`` (false), ``household_size`` (1 + number of children), ``children`` and
``interests`` (none). An explicit ``null`` records a skipped question (``"children":
null`` = the children question was skipped).

Reading and validating (``bot.residents.import_lines``) runs in a worker process for
large files while this process writes (``bot.residents.import_db``); the two take about
as long each, so on two cores the import takes about half the time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.residents.import_db import already_registered, writer
from bot.residents.import_lines import Chunk, chunks, chunks_in_worker

CHUNK = 20_000  # rows per executemany / COPY: amortises round trips, small in memory
# Spawning the worker costs about half a second: worth it from ~40,000 lines on.
WORKER_FROM_BYTES = 8 << 20
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


class _Import:
    """One import's progress: what was written, the problems, the lines' users."""

    def __init__(self) -> None:
        self.count = 0
        self.problems: list[tuple[int, str]] = []
        self.clash: Exception | None = None  # the unique index refused a LINE user id
        self.users: list[tuple[str, int]] = []  # (LINE user id, line number) of valid lines

    @property
    def failed(self) -> bool:
        return bool(self.problems) or self.clash is not None

    def load(self, conn: Connection, lines: Iterator[Chunk], now: dt.datetime, size: int) -> None:
        """Write chunk after chunk until the first problem; keep reading for the rest."""
        first = next(lines)
        # A full first chunk means a large file: the writer may then trade locks for speed.
        with writer(conn, now, bulk=len(first.numbers) >= size) as write:
            for chunk in _chained(first, lines):
                self.problems += chunk.problems
                self.users += zip((r[0] for r in chunk.residents), chunk.numbers, strict=True)
                if not self.failed:
                    try:
                        write.write(chunk)
                    except (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError) as error:
                        self.clash = error  # which lines: asked after the rollback
                self.count += len(chunk.numbers)
            if not self.failed:
                write.finish()


def _chained(first: Chunk, rest: Iterator[Chunk]) -> Iterator[Chunk]:
    yield first
    yield from rest


class _Rollback(Exception):
    """Leave the import's transaction without writing anything."""


def import_residents(
    target: Session | Engine,
    path: str | Path,
    config: Any,
    *,
    now: dt.datetime | None = None,
    chunk: int = CHUNK,
    worker: bool | None = None,
) -> int:
    """Import a JSON Lines file of residents; return how many; raise BadResidentsFile.

    `worker`: validate in a worker process (default: for files of 8 MiB and more).
    """
    path = Path(path)
    town = config.municipality
    if worker is None:
        worker = path.stat().st_size >= WORKER_FROM_BYTES
    read = chunks_in_worker if worker else chunks
    moment = now or dt.datetime.now(dt.UTC)
    today = moment.astimezone(ZoneInfo("Asia/Tokyo")).date()  # birth dates up to today, in Japan
    lines = read(path, list(town.districts), list(town.topics), chunk, today)
    state = _Import()
    try:
        with _transaction(target) as conn:
            state.load(conn, lines, moment, chunk)
            if state.failed:
                raise _Rollback
    except _Rollback:
        pass
    finally:
        lines.close()  # type: ignore[attr-defined]
    if not state.failed:
        return state.count
    with _reading(target) as conn:  # after the rollback: which lines are taken already
        state.problems += already_registered(conn, state.users)
    if not state.problems:
        raise state.clash  # type: ignore[misc]  # a clash with no taken line: not ours to explain
    raise BadResidentsFile(str(path), [message for _, message in sorted(state.problems)])


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
def _reading(target: Session | Engine) -> Iterator[Connection]:
    if isinstance(target, Session):
        yield target.connection()
    else:
        with target.connect() as conn:
            yield conn
