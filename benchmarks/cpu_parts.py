"""CPU time by part of the code and by SQL statement, per thread: the benchmarks' `--parts`.

Each function named here is wrapped while the benchmark runs, and the CPU time its thread
spends inside it (`time.thread_time()`) is added up: work only, never a wait for the GIL, a
lock or LINE. Statements are timed the same way at the driver (SQLAlchemy's
before/after_cursor_execute events, and the driver's commit), so a statement's figure is
the database library's own work (all of SQLite's, which runs in-process; the client side
of PostgreSQL's), and the part around it minus that is SQLAlchemy's. Earlier sections of
docs/benchmarks.md wrapped functions by hand for each question; this is the same
measurement in one command.

A part's figure includes the parts it calls (the table indents them under their callers);
the wrappers themselves add ~1 µs per call.

Under load (`benchmarks.webhook --parts`) gunicorn's workers serve `timed_bot()`: each
worker counts while the benchmark's flag file exists and writes its counts when it is
removed; `merged` adds the workers' counts up.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class Part:
    """A function to time: `where` is "module" or "module:Class", `name` its attribute."""

    label: str
    where: str
    name: str
    depth: int = 0  # indentation in the report (called from the part above it)


def parts(table: str) -> tuple[Part, ...]:
    """Parts from lines "depth module:qualified.name | label"."""
    found = []
    for line in table.strip().splitlines():
        head, label = (x.strip() for x in line.split("|"))
        depth, target = head.split()
        module, _, qualified = target.partition(":")
        owner, _, name = qualified.rpartition(".")
        found.append(Part(label, f"{module}:{owner}" if owner else module, name, int(depth)))
    return tuple(found)


# The webhook's path: its check and parse (in bot.web's event loop; on the request's thread
# under `benchmarks.webhook_cpu`'s Flask test client) and its writing (the worker's writer
# thread, a round of webhooks at a time). Reading and writing HTTP in the event loop is
# part of "the rest".
WEBHOOK_PARTS = parts(
    """
0 bot.registration.webhook:accept | a webhook's check and parse (the event loop)
1 bot.registration.webhook:read_webhook | size, signature, JSON
1 bot.registration.webhook:parse_event | the SDK's parse
0 bot.registration.webhook:write_many | the writer's rounds (batches; replies handed on)
1 bot.registration.events:EventWriter._write_batch | a batch's transaction (reply threads' too)
2 bot.registration.events:_claim | the claim
2 bot.registration.events:_lock_residents | the residents' locks (PostgreSQL)
2 bot.registration.events:read_ahead | the residents' read (ORM, a query per batch)
2 bot.registration.handlers:find_resident | a resident's read (ORM, a later event's)
2 bot.registration.outbox:store_all | the reply rows (a statement per batch)
2 sqlalchemy.orm.session:SessionTransaction.commit | the commit (with the ORM's flush)
1 bot.registration.events:EventWriter._finish | after the batch (the event's log line)
1 bot.registration.outbox:ReplySender.send_many | the replies handed to the reply threads
0 structlog._base:BoundLoggerBase._proxy_to_logger | log lines: ours and the access lines
0 bot.registration.outbox:ReplySender._run | a reply thread's send
1 bot.registration.language:welcome_now | a new friend's language and welcome
2 bot.registration.language:profile_language | their profile's language (a call to LINE)
2 bot.registration.events:EventWriter.learn | storing it (EventWriter.learn; may write a batch)
1 bot.line.http:LineHttp.post | the call to LINE
"""
)
# The driver's commit, as a statement (no dialect overrides DefaultDialect.do_commit).
DRIVER_COMMIT = Part("COMMIT", "sqlalchemy.engine.default:DefaultDialect", "do_commit")

_TABLE = re.compile(r"\b(?:INTO|FROM|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def statement_label(sql: str) -> str:
    """ "INSERT webhook_events", "SELECT residents"...: the verb and the first table."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1)}" if table else verb


class PartTimer:
    """Wraps the parts and listens to the statements while in a `with` block; counts only
    while `active` (so a warm-up can run through the same wrappers uncounted)."""

    def __init__(self, parts: tuple[Part, ...]) -> None:
        self.parts = parts
        self._wrapped = (*parts, DRIVER_COMMIT)
        self.active = False
        self.cpu: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._saved: list[tuple[object, str, object]] = []
        self.process_cpu = 0.0  # the whole process's CPU while active (timed_bot)

    def __enter__(self) -> PartTimer:
        for part in self._wrapped:
            owner = _resolve(part.where)
            original = getattr(owner, part.name)
            self._saved.append((owner, part.name, original))
            setattr(owner, part.name, self._timed(part.label, original))
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def _add(self, key: str, seconds: float) -> None:
        with self._lock:
            self.cpu[key] += seconds
            self.calls[key] += 1

    def _timed(self, key: str, function):
        timer = self

        def timed(*args, **kwargs):
            if not timer.active:
                return function(*args, **kwargs)
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                timer._add(key, time.thread_time() - started)

        return timed

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._local.started = time.thread_time()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        started = getattr(self._local, "started", None)
        if self.active and started is not None:
            self._add(f"{statement_label(statement)}", time.thread_time() - started)

    def reset(self) -> None:
        """Forget what was counted (a new round)."""
        with self._lock:
            self.cpu.clear()
            self.calls.clear()

    def report(self, events: int) -> list[str]:
        """The table: CPU per event and per call of each part, then of each statement."""
        statements = sorted(
            (k for k in self.cpu if k not in {p.label for p in self.parts}),
            key=lambda k: -self.cpu[k],
        )
        rows = [("  " * p.depth + p.label, p.label) for p in self.parts]
        rows += [("  " + key, key) for key in statements]
        width = max([48, *(len(shown) for shown, _ in rows)])
        lines = [f"  {'part':<{width}} {'ms/event':>9} {'calls':>7} {'µs/call':>8}"]
        if self.process_cpu:
            shown = "the worker processes, every thread"
            lines.append(f"  {shown:<{width}} {self.process_cpu / events * 1000:9.3f}")
        for shown, key in rows[: len(self.parts)]:
            lines.append(self._line(shown, key, events, width))
        lines.append("  at the driver (statements, the commit)")
        for shown, key in rows[len(self.parts) :]:
            lines.append(self._line(shown, key, events, width))
        return lines

    def _line(self, shown: str, key: str, events: int, width: int) -> str:
        cpu, calls = self.cpu[key], self.calls[key]
        per_call = f"{cpu / calls * 1e6:8.0f}" if calls else f"{'—':>8}"
        return f"  {shown:<{width}} {cpu / events * 1000:9.3f} {calls:7,} {per_call}"


def _resolve(where: str):
    module, _, attribute = where.partition(":")
    owner = importlib.import_module(module)
    return getattr(owner, attribute) if attribute else owner


def timed_bot():
    """The bot's WSGI app, its WEBHOOK_PARTS timed in this worker process while the file
    `$TODOKU_BENCH_PARTS/active` exists; when it goes, the counts are written to
    `$TODOKU_BENCH_PARTS/<pid>.json`. For gunicorn: `benchmarks.cpu_parts:timed_bot()`."""
    from bot.app import create_app

    folder = Path(os.environ["TODOKU_BENCH_PARTS"])
    timer = PartTimer(WEBHOOK_PARTS).__enter__()
    threading.Thread(target=_follow_flag, args=(timer, folder), daemon=True).start()
    return create_app()


def _follow_flag(timer: PartTimer, folder: Path) -> None:
    started = 0.0
    while True:
        wanted = (folder / "active").exists()
        if wanted and not timer.active:
            timer.reset()
            started, timer.active = time.process_time(), True
        elif timer.active and not wanted:
            timer.active = False
            timer.process_cpu = time.process_time() - started
            counts = {"cpu": dict(timer.cpu), "calls": dict(timer.calls)}
            counts["process_cpu"] = timer.process_cpu
            (folder / f"{os.getpid()}.json").write_text(json.dumps(counts))
        time.sleep(0.02)


def merged(folder: Path) -> PartTimer:
    """The workers' counts (timed_bot) added up, in a PartTimer to `report`."""
    total = PartTimer(WEBHOOK_PARTS)
    for path in folder.glob("*.json"):
        counts = json.loads(path.read_text())
        total.cpu.update(counts["cpu"])
        total.calls.update(counts["calls"])
        total.process_cpu += counts["process_cpu"]
    return total
