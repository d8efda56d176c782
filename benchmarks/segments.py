"""Segment engine benchmark: import N residents, then time every sample program's audience.

    .venv/bin/python -m benchmarks.segments --residents 1000000 --db sqlite:///var/bench.db
    .venv/bin/python -m benchmarks.segments --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

The floor is a bare query streaming every line_user_id of the residents table; each
audience is reported beside it as a ratio. The database is emptied first (its tables are
dropped and migrated afresh).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, MetaData, select, text

from benchmarks.segments_data import write_jsonl
from bot.config import load_config
from bot.residents.importer import import_residents
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Resident
from bot.store.queries import eligible_residents, stream, target_rules

REPO = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """Resident set size of this process now, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def peak_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_schema(engine: Engine) -> None:
    """Drop every table the database holds and migrate to the newest schema.

    The tables are reflected from the database, not taken from the models: a database left
    at an older schema (a foreign key since dropped) is dropped in its own order."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # A trigger naming a dropped table fails the next DROP (migration 0011's on
            # residents names deliveries); PostgreSQL drops a table's triggers with it.
            triggers = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            for (name,) in triggers.all():
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        existing = MetaData()
        existing.reflect(conn)
        existing.drop_all(conn)
    upgrade(engine)


def analyze(engine: Engine) -> None:
    """Refresh planner statistics, as autovacuum (PostgreSQL) or a nightly ANALYZE would."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        with engine.connect() as conn:  # fold the import's WAL back into the database file
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def timed_stream(engine: Engine, query, repeat: int) -> tuple[int, float, float]:
    """(rows, best seconds of `repeat` runs, RSS growth in MiB while streaming)."""
    best, growth, rows = float("inf"), 0.0, 0
    for _ in range(repeat):
        before = rss_mib()
        start = time.perf_counter()
        rows = 0
        with engine.connect() as conn:
            for chunk in stream(conn, query):
                rows += len(chunk)
                growth = max(growth, rss_mib() - before)
        best = min(best, time.perf_counter() - start)
    return rows, best, growth


def load(engine: Engine, config, args: argparse.Namespace) -> None:
    """Generate the residents file and import it into a fresh schema; print the rate."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "residents.jsonl"
        start = time.perf_counter()
        write_jsonl(path, args.residents, args.on, family_share=args.family_share)
        print(f"generate  {time.perf_counter() - start:6.1f} s  ({path.stat().st_size >> 20} MiB)")
        fresh_schema(engine)
        start = time.perf_counter()
        count = import_residents(engine, path, config)
        took = time.perf_counter() - start
    reader = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"import    {took:6.1f} s  {count / took:,.0f} residents/s  peak RSS {peak_mib():.0f} MiB"
        f" (reading process {reader:.0f} MiB)  load average {os.getloadavg()[0]:.2f}"
    )
    analyze(engine)


def run(args: argparse.Namespace) -> None:
    """Generate, import, and time the floor and every program's and campaign's audience."""
    config = load_config(args.config)
    engine = make_engine(args.db, timeout=None, create=True)
    family = f" ({args.family_share:.0%} with a family profile)" if args.family_share else ""
    print(f"# {engine.dialect.name}, {args.residents:,} residents{family}, audiences on {args.on}")
    if not args.reuse:
        load(engine, config, args)
    floor_query = select(Resident.__table__.c.line_user_id)
    rows, floor, growth = timed_stream(engine, floor_query, args.repeat)
    print(f"floor     {floor:6.3f} s  {rows:>9,} ids  (RSS +{growth:.0f} MiB)")
    targets = [p.id for p in config.programs] + [c.id for c in config.campaigns]
    worst = 0.0
    for target in targets:
        query = eligible_residents(target_rules(config, target), args.on)
        rows, best, growth = timed_stream(engine, query, args.repeat)
        worst = max(worst, best)
        print(
            f"{target:<28} {best:6.3f} s  {rows:>9,} ids  {best / floor:4.2f}× floor"
            f"  (RSS +{growth:.0f} MiB)"
        )
    ratio = worst / floor
    print(f"slowest audience {worst:.3f} s = {ratio:.2f}× floor; peak RSS {peak_mib():.0f} MiB")
    engine.dispose()


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--db", default=f"sqlite:///{REPO / 'var' / 'bench-segments.db'}")
    parser.add_argument("--config", default=str(REPO / "config"))
    parser.add_argument("--on", type=dt.date.fromisoformat, default=dt.date(2026, 11, 22))
    parser.add_argument("--repeat", type=int, default=3, help="runs per query (best is shown)")
    parser.add_argument("--reuse", action="store_true", help="time the residents already loaded")
    parser.add_argument(
        "--family-share",
        type=float,
        default=0.0,
        help="share of accounts holding a family profile (代理受信), e.g. 0.2",
    )
    args = parser.parse_args()
    if args.db.startswith("sqlite:///"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    run(args)


if __name__ == "__main__":
    main()
