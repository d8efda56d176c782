"""Dispatcher benchmark: one campaign slot to N residents through linesim, beside the floor.

    .venv/bin/python -m benchmarks.dispatch --residents 100000
    .venv/bin/python -m benchmarks.dispatch --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

The floor is bare multicast calls of 500 ids to linesim with the SDK (LineGateway, one
retry key each, no database). The run is `dispatch.run_slot`: claim, record every delivery
(INSERT … SELECT), then per batch commit the key, send, settle. linesim's own multicast
limit (LINE's 200 req/s) is lifted, so the figure is ours: the run keeps its production
client-side limit of 100 req/s (SendPolicy), which caps it at 50,000 residents/s.
The residents are not linesim users: linesim validates and accepts each request but keeps
no timeline for unknown ids (as LINE drops them), the same for the floor and the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.segments import analyze, fresh_schema, peak_mib
from benchmarks.segments_data import write_jsonl
from bot.clock import TOKYO, FixedClock
from bot.config import load_config
from bot.dispatch.run import run_slot
from bot.logs import configure_logging
from bot.residents.importer import import_residents
from bot.settings import DEMO_ACCESS_TOKEN, DEMO_CHANNEL_SECRET, DEMO_SECRET_KEY, Settings
from bot.store.engine import make_engine
from bot.wiring import wire
from linesim.server import start_in_thread

REPO = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)
CAMPAIGN = """\
campaigns:
  - id: bench-all
    program: jutaku-reform
    send:
      - at: 2026-11-22 10:00
    lead: ベンチマークのお知らせです。
"""


def bench_config(folder: Path) -> Path:
    """The sample programs, a window that is always open, one campaign to everybody."""
    sample = REPO / "config"
    text = (sample / "municipality.yaml").read_text(encoding="utf-8")
    (folder / "municipality.yaml").write_text(
        text.replace('window: "08:00-20:00"', 'window: "00:00-24:00"'), encoding="utf-8"
    )
    (folder / "programs.yaml").write_text(
        (sample / "programs.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (folder / "campaigns.yaml").write_text(CAMPAIGN, encoding="utf-8")
    return folder


def floor(wiring, user_ids: list[str], notice) -> float:
    """Seconds for bare SDK multicasts of 500 ids each to linesim."""
    start = time.perf_counter()
    for i in range(0, len(user_ids), 500):
        wiring.line.multicast(user_ids[i : i + 500], [notice], str(uuid.uuid4()))
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> None:
    """Load residents, time the floor, then time one slot end to end."""
    configure_logging("WARNING")  # one line per batch would time the terminal
    sim = start_in_thread(DEMO_CHANNEL_SECRET, DEMO_ACCESS_TOKEN, None)
    sim.sim.faults.configure({"rate_limit": {"multicast": "1000000/second"}})
    with tempfile.TemporaryDirectory() as tmp:
        folder = bench_config(Path(tmp))
        config = load_config(folder)
        engine = make_engine(args.db)
        fresh_schema(engine)
        path = Path(tmp) / "residents.jsonl"
        write_jsonl(path, args.residents, NOW.date())
        import_residents(engine, path, config)
        analyze(engine)
        settings = Settings(
            database_url=args.db,
            config_dir=folder,
            line_api_base=sim.url,
            line_api_data_base=sim.url,
            channel_secret=DEMO_CHANNEL_SECRET,
            channel_access_token=DEMO_ACCESS_TOKEN,
            secret_key=DEMO_SECRET_KEY,
        )
        wiring = wire(settings, clock=FixedClock(NOW), engine=engine)
        report(wiring, engine, args.residents)
    sim.stop()


def report(wiring, engine, residents: int) -> None:
    """Print the floor, the run and their ratio."""
    from bot.clicks import notice_links
    from bot.store.models import Resident
    from messages import build_notice

    with wiring.session_factory() as session:
        ids = [u for (u,) in session.query(Resident.line_user_id)]
    print(f"# {engine.dialect.name}, {residents:,} residents, campaign bench-all")
    program = wiring.config.program("jutaku-reform")
    notice = build_notice(program, "ベンチマーク", notice_links(wiring.settings, program, 0, "x"),
                          NOW.date())  # fmt: skip
    bare = floor(wiring, ids, notice)
    calls = -(-len(ids) // 500)
    print(f"floor     {bare:6.2f} s  {len(ids) / bare:9,.0f} residents/s  ({calls} calls)")
    start = time.perf_counter()
    summary = run_slot(wiring, "bench-all", NOW)
    took = time.perf_counter() - start
    sent = summary.counts.get("sent", 0)
    print(f"run_slot  {took:6.2f} s  {sent / took:9,.0f} residents/s  counts {summary.counts}")
    print(f"ratio     {took / bare:.2f}× floor; peak RSS {peak_mib():.0f} MiB")


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--db", default=f"sqlite:///{REPO / 'var' / 'bench-dispatch.db'}")
    args = parser.parse_args()
    if args.db.startswith("sqlite:///"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    run(args)


if __name__ == "__main__":
    main()
