"""Dispatcher benchmark at LINE's real latency: `todoku send` to N residents beside its floors.

    .venv/bin/python -m benchmarks.dispatch --residents 100000
    .venv/bin/python -m benchmarks.dispatch --residents 1000000 --db postgresql+psycopg://…

Three processes on this machine, as in production:

* **LINE** in its own process, answering every Messaging API request after `--latency-ms`
  (LINE from Japan: tens of ms) and enforcing LINE's own multicast limit, 200 requests/s
  per channel (more gets 429, as from LINE), and its retry keys (409 for a key already
  accepted). By default (`--line standin`) this is `benchmarks/line_standin.py`, one
  asyncio process that does little else, so that LINE's own work does not take the cores
  the benchmark measures; `--line linesim` uses linesim, which also validates every
  message against LINE's rules (about 20 ms of CPU per 500-id multicast: on 2 cores it
  then bounds even the bare floor).
* **this process**: generates and imports the residents, then measures the floors over
  the same LINE user ids:
  - `LINE rate floor`: ceil(N / 500) multicasts at 200/s — LINE's limit, computed
    (1.0 s per 100,000 residents); the targets are ratios to it;
  - `bare concurrent`: those multicasts through the client `todoku send` uses
    (`bot.line.http.multicast_http`: the notice as LINE's JSON, a retry key each), 16
    threads at the dispatcher's rate, no database: the bare operation it is built on;
  - `sequential SDK`: the plain loop of SDK calls as the SDK documents them
    (`MessagingApi.multicast(MulticastRequest(...))`), one after another
    (`--sequential-calls` caps it; the time is then extrapolated from its rate).
* **`todoku send bench-all`**, as staff run it: the installed entry point started as a
  subprocess, timed from process start to exit, with its peak RSS and the moment its
  first multicast reached linesim (process start to first multicast).

The residents are not linesim users: linesim validates and accepts each request but keeps
no timeline for unknown ids (as LINE drops them), the same for the floors and the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.segments import REPO, analyze, fresh_schema
from benchmarks.segments_data import write_jsonl
from bot.clock import TOKYO
from bot.config import load_config
from bot.residents.importer import import_residents
from bot.settings import DEMO_ACCESS_TOKEN, DEMO_CHANNEL_SECRET, DEMO_SECRET_KEY, Settings
from bot.store.engine import make_engine

TODOKU = Path(sys.executable).parent / "todoku"
LINE_MULTICAST_RATE = 200  # requests/s per channel (LINE, since 2025-04-23)
BATCH = 500
CAMPAIGN = """\
campaigns:
  - id: bench-all
    program: jutaku-reform
    send:
      - at: 2026-11-22 10:00
    lead: ベンチマークのお知らせです。
"""


def bench_config(folder: Path) -> Path:
    """The sample programs (jutaku-reform open all year), a 24-hour window, one campaign."""
    sample = REPO / "config"
    text = (sample / "municipality.yaml").read_text(encoding="utf-8")
    (folder / "municipality.yaml").write_text(
        text.replace('window: "08:00-20:00"', 'window: "00:00-24:00"'), encoding="utf-8"
    )
    programs = (sample / "programs.yaml").read_text(encoding="utf-8")
    # `todoku send` runs on the real clock: keep the program open whatever today is.
    programs = re.sub(
        r"(id: jutaku-reform\n(?:.*\n)*?\s+period: )\{[^}]*\}",
        r"\1{opens: 2000-04-01, closes: 2099-03-31}",
        programs,
        count=1,
    )
    (folder / "programs.yaml").write_text(programs, encoding="utf-8")
    (folder / "campaigns.yaml").write_text(CAMPAIGN, encoding="utf-8")
    return folder


# --- linesim in its own process -------------------------------------------------------------


def serve_linesim(port: int) -> None:
    """Entry point of the linesim process (quiet: no line per request)."""
    from linesim.app import create_app
    from linesim.server import _server

    app = create_app(DEMO_CHANNEL_SECRET, DEMO_ACCESS_TOKEN, None)
    server = _server(app, "127.0.0.1", port, quiet=True)
    print("ready", flush=True)
    server.serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_linesim() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.dispatch", "--serve-linesim", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}"


def start_standin(latency_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.line_standin",
            "--port",
            str(port),
            "--delay-ms",
            str(latency_ms),
            "--multicast-rate",
            str(LINE_MULTICAST_RATE),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("line stand-in on")
    return proc, f"http://127.0.0.1:{port}"


class StandIn:
    """The same calls on the stand-in (its latency is fixed when it starts)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def reset(self, latency_ms: float) -> None:
        requests.post(f"{self.url}/_reset", timeout=30).raise_for_status()

    def multicasts(self) -> list[dict]:
        return requests.get(f"{self.url}/_multicasts", timeout=120).json()["multicasts"]


class Sim:
    """The few /_sim calls the benchmark needs."""

    def __init__(self, url: str) -> None:
        self.url = url

    def faults(self, **spec) -> None:
        requests.post(f"{self.url}/_sim/faults", json=spec, timeout=10).raise_for_status()

    def reset(self, latency_ms: float) -> None:
        requests.post(f"{self.url}/_sim/reset", timeout=30).raise_for_status()
        self.faults(latency_ms=latency_ms)

    def multicasts(self) -> list[dict]:
        got = requests.get(f"{self.url}/_sim/requests", params={"bodies": "0"}, timeout=120)
        return [r for r in got.json()["requests"] if r["endpoint"] == "multicast"]


def statuses(records: list[dict]) -> str:
    counts: dict[int, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return ", ".join(f"{n}×{s}" for s, n in sorted(counts.items()))


def arrived(record: dict) -> float:
    """Epoch seconds at which LINE received the request (linesim logs when it answered)."""
    if isinstance(record["at"], float):
        return record["at"]
    return dt.datetime.fromisoformat(record["at"]).timestamp() - record["ms"] / 1000


# --- the floors -------------------------------------------------------------------------------


def sequential(url: str, batches: list[list[str]], notice) -> float:
    """Seconds for the plain loop of SDK multicasts, one after another, as the SDK documents.

    `MessagingApi.multicast(MulticastRequest(...))` per 500 ids: the baseline the issue names.
    """
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MulticastRequest

    api = MessagingApi(ApiClient(Configuration(host=url, access_token=DEMO_ACCESS_TOKEN)))
    start = time.perf_counter()
    for ids in batches:
        request = MulticastRequest(to=ids, messages=[notice])
        api.multicast(request, x_line_retry_key=str(uuid.uuid4()), _request_timeout=(3.05, 10))
    return time.perf_counter() - start


def bare_concurrent(url: str, batches: list[list[str]], notice, threads: int = 16) -> float:
    """Seconds for the same multicasts from `threads` threads, paced by the dispatcher's own
    gate (SendPolicy.rate, 5 % under LINE's limit: paced at exactly 200/s, a 1,000,000 run
    drew 429s from the stand-in when network jitter put a 201st request into one second)."""
    from bot.dispatch.send import RateGate, SendPolicy
    from bot.line.http import multicast_http

    gate = RateGate(SendPolicy().rate)
    # The client `todoku send` sends through (Wiring.dispatcher), one for all threads.
    client = multicast_http(settings_for("sqlite://", Path("."), url))
    message = notice.to_dict()

    def send(ids: list[str]) -> None:
        gate.wait()
        client.multicast(ids, [message], str(uuid.uuid4()))

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, batches))
    return time.perf_counter() - start


# --- todoku send ------------------------------------------------------------------------------


def settings_for(db: str, folder: Path, url: str) -> Settings:
    return Settings(
        database_url=db,
        config_dir=folder,
        line_api_base=url,
        line_api_data_base=url,
        channel_secret=DEMO_CHANNEL_SECRET,
        channel_access_token=DEMO_ACCESS_TOKEN,
        secret_key=DEMO_SECRET_KEY,
    )


def todoku_send(
    db: str, folder: Path, url: str, profile: str | None = None
) -> tuple[float, float, str, float, float]:
    """Run `todoku send bench-all` as staff do: (seconds, start epoch, output, peak RSS MiB,
    CPU seconds of the process, user and system, all its threads)."""
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "TODOKU_CONFIG": str(folder),
        "LINE_API_BASE": url,
        "LINE_API_DATA_BASE": url,
        "LINE_CHANNEL_SECRET": DEMO_CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": DEMO_ACCESS_TOKEN,
        "TODOKU_SECRET_KEY": DEMO_SECRET_KEY,
        "TODOKU_LOG_LEVEL": "WARNING",
    }
    started, t0 = time.time(), time.perf_counter()
    command = [str(TODOKU), "send", "bench-all"]
    if profile:  # py-spy (pip install py-spy) samples it, idle threads too; RSS is then py-spy's
        spy = Path(sys.executable).parent / "py-spy"
        command = [
            str(spy),
            "record",
            "--idle",
            "--threads",
            "-r",
            "200",
            "--format",
            "raw",
            "-o",
            profile,
            "--",
            *command,
        ]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = PeakRss(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    output = proc.stdout.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"todoku send failed ({proc.returncode}):\n{output}")
    return took, started, output.strip(), peak.mib(), usage.ru_utime + usage.ru_stime


class PeakRss:
    """The high-water mark of a process's own memory (VmHWM), read every 20 ms until it ends.

    Not wait4's ru_maxrss: Linux carries the forking process's resident size across the
    child's execve into ru_maxrss, so it reported this benchmark's own memory (the 1,000,000
    generated residents: "584 MiB") instead of `todoku send`'s (~130 MiB, flat).
    """

    def __init__(self, pid: int) -> None:
        self.kib = 0
        self._status = Path(f"/proc/{pid}/status")
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        while True:
            try:
                text = self._status.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.kib = max(self.kib, int(line.split()[1]))
            if "State:\tZ" in text:  # exited, not yet reaped: its memory is gone
                return
            time.sleep(0.02)

    def mib(self) -> float:
        return self.kib / 1024


def utc_epoch(value) -> float:
    """Epoch seconds of a timestamp column read raw (stored as UTC, naive on SQLite)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(args: argparse.Namespace) -> None:
    """Load residents, measure the floors, then `todoku send`, and print the ratios."""
    from bot.logs import configure_logging

    configure_logging("WARNING")  # one line per request would time the terminal
    # As installed: byte-code compiled once (this machine sets PYTHONDONTWRITEBYTECODE, which
    # would make every `todoku send` compile Todoku's own modules again).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "bot", "messages", "segments"],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if args.line == "linesim":
        proc, url = start_linesim()
        sim: Sim | StandIn = Sim(url)
    else:
        proc, url = start_standin(args.latency_ms)
        sim = StandIn(url)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = bench_config(Path(tmp))
            config = load_config(folder)
            engine = make_engine(args.db, timeout=None, create=True)
            fresh_schema(engine)
            path = Path(tmp) / "residents.jsonl"
            today = dt.datetime.now(TOKYO).date()
            write_jsonl(path, args.residents, today, family_share=args.family_share)
            import_residents(engine, path, config)
            analyze(engine)
            report(args, engine, folder, sim)
            engine.dispose()
    finally:
        proc.terminate()
        proc.wait()


def report(args, engine, folder: Path, sim: Sim | StandIn) -> None:
    from sqlalchemy import text

    from bot.links import notice_links
    from messages import build_notice

    with engine.connect() as conn:
        # LINE accounts only: a family profile's notices go to its account (one message).
        ids = list(
            conn.scalars(
                text(
                    "SELECT line_user_id FROM residents WHERE line_user_id IS NOT NULL ORDER BY id"
                )
            )
        )
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
    config = load_config(folder)
    program = config.program("jutaku-reform")
    links = notice_links(settings_for(args.db, folder, sim.url), program, 0, "x")
    notice = build_notice(program, "ベンチマーク", links, dt.date.today())
    print(
        f"# {engine.dialect.name}, {len(ids):,} residents"
        + (f" ({args.family_share:.0%} with a family profile)" if args.family_share else "")
        + f", {len(batches):,} multicasts, "
        f"LINE ({args.line}) latency {args.latency_ms:g} ms, "
        f"{dt.datetime.now(TOKYO):%Y-%m-%d %H:%M} JST, "
        f"{os.cpu_count()} cores"
    )
    rate_floor = len(batches) / LINE_MULTICAST_RATE
    print(f"LINE rate floor   {rate_floor:7.2f} s  ({LINE_MULTICAST_RATE} multicasts/s × {BATCH})")

    sim.reset(args.latency_ms)
    bare = bare_concurrent(sim.url, batches, notice)
    print(
        f"bare concurrent   {bare:7.2f} s  = {bare / rate_floor:.2f}× rate floor  "
        f"[{statuses(sim.multicasts())}]  load {loadavg()}"
    )

    sim.reset(args.latency_ms)
    calls = min(len(batches), args.sequential_calls or len(batches))
    seq = sequential(sim.url, batches[:calls], notice) * len(batches) / calls
    note = "" if calls == len(batches) else f" (extrapolated from {calls} calls)"
    print(f"sequential SDK    {seq:7.2f} s{note}  load {loadavg()}")

    sim.reset(args.latency_ms)
    took, started, output, rss, cpu = todoku_send(args.db, folder, sim.url, args.profile)
    sent = sim.multicasts()
    first = min(arrived(r) for r in sent) - started if sent else float("nan")
    with engine.connect() as conn:
        run_started, run_finished = conn.execute(
            text("SELECT started_at, finished_at FROM campaign_runs ORDER BY id DESC LIMIT 1")
        ).one()
    run_started, run_finished = utc_epoch(run_started), utc_epoch(run_finished)
    run_took = run_finished - run_started
    print(
        f"todoku send       {took:7.2f} s  = {took / rate_floor:.2f}× rate floor, "
        f"{seq / took:.1f}× faster than sequential  [{statuses(sent)}]  load {loadavg()}"
    )
    print(
        f"  the run (claimed → finished) {run_took:.2f} s = {run_took / rate_floor:.2f}× rate "
        f"floor, {seq / run_took:.1f}× faster than sequential"
    )
    print(
        f"  process start → run claimed {run_started - started:.2f} s; → first multicast "
        f"{first:.2f} s; finished → exit {started + took - run_finished:.2f} s; "
        f"peak RSS {rss:.0f} MiB; CPU {cpu:.2f} s (user + system, on a shared machine "
        "steadier than the wall clock)"
    )
    print(f"  {output.splitlines()[-1] if output else ''}")
    if args.json:
        print(
            json.dumps(
                {
                    "db": engine.dialect.name,
                    "residents": len(ids),
                    "rate_floor": rate_floor,
                    "bare": bare,
                    "sequential": seq,
                    "send": took,
                    "run": run_took,
                    "claimed": run_started - started,
                    "first_multicast": first,
                    "rss_mib": rss,
                    "cpu": cpu,
                }
            )
        )


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--db", default=f"sqlite:///{REPO / 'var' / 'bench-dispatch.db'}")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--line", choices=["standin", "linesim"], default="standin")
    parser.add_argument(
        "--sequential-calls", type=int, default=0, help="cap the sequential loop (0: all)"
    )
    parser.add_argument("--profile", help="record `todoku send` with py-spy into this file")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--family-share",
        type=float,
        default=0.0,
        help="share of accounts holding a family profile (代理受信), e.g. 0.2",
    )
    parser.add_argument("--serve-linesim", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_linesim:
        serve_linesim(args.serve_linesim)
        return
    if args.db.startswith("sqlite:///"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    run(args)


if __name__ == "__main__":
    main()
