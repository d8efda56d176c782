"""Helpers shared by test modules (test modules never import each other)."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from sqlalchemy import insert, select, text

from bot.store.models import AuditEntry, Delivery, Resident
from tests.conftest import REPO, SAMPLE_CONFIG

# The real command line, as a module (works without the console script) and as staff run it.
TODOKU = [sys.executable, "-m", "bot"]
TODOKU_SCRIPT = Path(sys.executable).with_name("todoku")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def clean_environ() -> dict[str, str]:
    """This process's environment without Todoku's and LINE's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "TODOKU_"))}


def run_todoku(*args: str, env: dict | None = None, cwd: Path = REPO, python: tuple[str, ...] = ()):
    """Run the real `todoku` command line in a subprocess (`python`: interpreter options,
    e.g. ("-X", "importtime"))."""
    full_env = {**clean_environ(), **(env or {})}
    command = [TODOKU[0], *python, *TODOKU[1:], *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120
    )


def todoku(engine, *args: str, stdin: str) -> subprocess.CompletedProcess:
    """Run the real `todoku` command with `stdin` typed in, detached from any terminal."""
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TODOKU_CONFIG": str(SAMPLE_CONFIG),
        "TODOKU_LOG_LEVEL": "WARNING",
    }
    # A new session has no controlling terminal, so the hidden prompt reads stdin.
    return subprocess.run(
        [str(TODOKU_SCRIPT), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )


def audit(wiring) -> list[tuple[str, str]]:
    """(actor, action) of every audit entry, oldest first."""
    with wiring.session_factory() as s:
        return [(e.actor, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def png(width: int, height: int) -> bytes:
    """A valid blank PNG of the given size."""
    row = b"\x00" + b"\xff\xff\xff" * width

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def mentions_year(text: str, year: int) -> bool:
    """Whether `text` names the year on its own (1958, 1958-07-03, 1958年), not as digits
    inside a timestamp's microseconds (…56.819588Z), a number or a hex id (a uuid's -1958-)."""
    return re.search(rf"(?<![0-9A-Za-z.\-]){year}(?![0-9A-Za-z])", text) is not None


def fixture_examples(max_examples: int):
    """hypothesis settings for a property test that takes function-scoped fixtures (a
    database, a client): each example cleans up after itself, and a database is slow."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def wait_for_lock_waits(conn, count: int, timeout: float = 5.0) -> None:
    """Return once `count` PostgreSQL sessions of this database wait for a lock (a row
    lock, an advisory lock): how a test knows another thread is held where it meant to."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    deadline = time.monotonic() + timeout
    while conn.scalar(waiting) < count:
        conn.rollback()  # a fresh snapshot of pg_stat_activity next time
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} session(s) never waited for a lock")
        time.sleep(0.01)


def hold_delivery(conn, run_id: int, resident_id: int) -> None:
    """Insert, in `conn`'s open transaction, a delivery of `run_id` to `resident_id`: a
    recorder writing that resident's row for the run then waits, its chunk chosen and its
    locks held, until `conn` rolls back (PostgreSQL's unique index waits for the other
    transaction). How a test holds a recording in the middle of a chunk."""
    conn.execute(
        insert(Delivery).values(
            run_id=run_id,
            program_id="held",
            resident_id=resident_id,
            status="pending",
            created_at=datetime.now(UTC),  # not the test's clock: this row is rolled back
        )
    )


def in_thread(work) -> tuple[threading.Thread, list]:
    """Start `work()` on a thread of its own; (the thread, a list that gets its return
    value or the exception it raised, for the test to assert after joining)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:  # the thread's result, asserted by the test
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def assert_no_delivery_names_a_missing_resident(wiring) -> None:
    """Every delivery's resident_id is NULL or a resident who exists (deliveries have no
    foreign key to residents: a trigger unnames a deleted resident's rows)."""
    with wiring.session_factory() as session:
        named = set(
            session.scalars(select(Delivery.resident_id).where(Delivery.resident_id.is_not(None)))
        )
        assert named <= set(session.scalars(select(Resident.id)))
