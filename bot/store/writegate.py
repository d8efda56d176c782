"""SQLite's writers queued at a gate instead of in SQLite's busy handler.

SQLite has one writer. A second one waits in its busy handler, which sleeps 1, 2, 5, 10,
15, 20, 25... ms between tries and is not fair: with several web threads per process a
webhook could wait hundreds of ms while others came and went (8 threads per worker gave
p99 2.4 s, docs/benchmarks.md). So a webhook's transaction on SQLite first passes this
gate: the threads of one process queue on a lock, and the one at the front takes an
exclusive `flock` on a file beside the database, which the kernel hands to the next
process as soon as it is released. Only the front thread of each process tries the file,
every millisecond, so at most one thread per process polls.

Both waits end after `timeout` seconds (the web process's database timeout), like
SQLite's own busy timeout: the webhook then fails and LINE delivers it again. On
PostgreSQL (row locks, many writers) the gate is open.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.store.engine import sqlite_file

# How often the thread at the front of a process tries the other processes' lock.
POLL_SECONDS = 0.001


class GateTimeout(Exception):
    """The gate was not passed within its timeout (the database is busy or stuck)."""


class WriteGate:
    """One writer at a time across threads and processes (SQLite), or no gate at all."""

    def __init__(self, database_url: str, timeout: float) -> None:
        path = sqlite_file(database_url)
        self.path = None if path is None else Path(f"{path}-writers.lock")
        self.timeout = timeout
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()

    @contextmanager
    def passage(self) -> Iterator[None]:
        """Hold the gate for the duration of the block (no-op without a SQLite file)."""
        if self.path is None:
            yield
            return
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise GateTimeout("webhook writers of this process")
        try:
            self._lock_file(deadline)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self, deadline: float) -> None:
        if self._fd is None or self._pid != os.getpid():
            # One descriptor per process, used by the thread in front; a forked child
            # opens its own (a shared descriptor would share the lock).
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise GateTimeout("webhook writers of other processes") from None
                time.sleep(POLL_SECONDS)
