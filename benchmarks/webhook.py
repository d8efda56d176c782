"""Webhook load benchmark: the web process as shipped, beside the bare floor, with wrk.

    .venv/bin/python -m benchmarks.webhook --db sqlite:///var/bench-webhook.db
    .venv/bin/python -m benchmarks.webhook --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

One invocation:
0. (each server gets `--warmup` seconds of unmeasured load from other bodies first);
1. starts the LINE stand-in (benchmarks/line_standin.py), answering after `--line-delay-ms`;
   with `--profile-language en` every new friend's LINE app is in English, so the follow
   also links their rich menu (one more call to LINE);
2. writes signed webhook bodies: a third each follow, text and postback (menu tap), one
   event per request by default (`--events-per-request`), every event id unique; each user
   follows, then writes, then taps, `--spread` events apart (default 600: half a second at
   the target rate, as a resident reads the welcome before answering it; 0 puts a user's
   three events side by side, in flight at once on different connections);
3. the floor: gunicorn with the shipped gunicorn.conf.py serving a Flask endpoint that only
   checks the signature and parses with the SDK; wrk (Debian) posts the bodies;
4. the bot: gunicorn with the shipped gunicorn.conf.py and `bot.app:create_app()` on a fresh
   schema holding `--residents` registered residents (default 100,000: the city after a
   campaign, its statistics up to date; on an empty table PostgreSQL's cached plans read the
   whole residents table at every batch as it grew); the same wrk run; then waits for the
   outbox to drain and checks that every accepted event was stored and answered exactly
   once (the stand-in counts reply tokens);
5. LINE never answers: the stand-in hangs; the same wrk run; the slowest webhook answer must
   stay under LINE's 2 s.
It prints events/s, p50, p99 and max per run, the ratio to the floor, and the load average.
With `--parts` the bot's workers serve `benchmarks.cpu_parts:timed_bot()` (the same app,
its webhook path timed per thread) and it also prints where their CPU went in step 4, from
the first measured request until the last reply left.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import func, select

from benchmarks.cpu_parts import merged
from bot.settings import DEMO_ACCESS_TOKEN, DEMO_CHANNEL_SECRET, DEMO_SECRET_KEY

REPO = Path(__file__).resolve().parent.parent
DESTINATION = "U" + "d" * 32
LUA = r"""
local sigs, bodies, n, idx, step = {}, {}, 0, 0, 1
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local tab = line:find("\t", 1, true)
    n = n + 1
    sigs[n] = line:sub(1, tab - 1)
    bodies[n] = line:sub(tab + 1)
  end
  f:close()
  idx = tonumber(tid) or 0
  step = tonumber(args[2])
end
function request()
  local i = idx % n + 1
  idx = idx + step
  return wrk.format("POST", "/callback",
    {["Content-Type"] = "application/json", ["X-Line-Signature"] = sigs[i]}, bodies[i])
end
function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def floor_app():
    """The bare floor: check the signature and parse with the SDK, nothing else."""
    from flask import Flask, Response, abort, request
    from linebot.v3 import WebhookParser
    from linebot.v3.exceptions import InvalidSignatureError

    app = Flask(__name__)
    parser = WebhookParser(os.environ.get("LINE_CHANNEL_SECRET", DEMO_CHANNEL_SECRET))

    @app.post("/callback")
    def callback():
        body = request.get_data(as_text=True)
        try:
            parser.parse(body, request.headers.get("X-Line-Signature", ""))
        except InvalidSignatureError:
            abort(400)
        return Response("OK\n", mimetype="text/plain")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_standin(delay_ms: float, profile_language: str = "") -> tuple[Process, str]:
    """The LINE stand-in in a process of its own, answering after `delay_ms`; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["--port", str(port), "--delay-ms", str(delay_ms)]
    if profile_language:
        args += ["--profile-language", profile_language]
    command = [sys.executable, "-m", "benchmarks.line_standin", *args]
    return Process(command, dict(os.environ), url + "/_stats"), url


def bot_env(db: str, standin_url: str) -> dict[str, str]:
    """The settings of a bot process on `db` whose LINE is the stand-in."""
    return {
        "DATABASE_URL": db,
        "TODOKU_CONFIG": str(REPO / "config"),
        "LINE_API_BASE": standin_url,
        "LINE_API_DATA_BASE": standin_url,
        "LINE_CHANNEL_SECRET": DEMO_CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": DEMO_ACCESS_TOKEN,
        "TODOKU_SECRET_KEY": DEMO_SECRET_KEY,
    }


def sign(body: bytes) -> str:
    """X-Line-Signature of a body."""
    digest = hmac.new(DEMO_CHANNEL_SECRET.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def make_event(kind: str, user: str, now_ms: int) -> dict:
    """One event as LINE sends it; unique id and reply token."""
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": now_ms,
        "source": {"type": "user", "userId": user},
        "webhookEventId": "01" + secrets.token_hex(12).upper(),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": secrets.token_hex(16),
    }
    if kind == "follow":
        event["follow"] = {"isUnblocked": False}
    elif kind == "message":
        event["message"] = {
            "id": str(secrets.randbelow(10**17)),
            "type": "text",
            "quoteToken": secrets.token_hex(8),
            "text": "こんにちは",
        }
    else:
        event["postback"] = {"data": "a=menu&v=review"}
    return event


def write_bodies(
    path: Path, requests_needed: int, per_request: int, users: str = "", spread: int = 0
) -> None:
    """Signed bodies, one per line: signature, a tab, the body. Every third event is a
    follow, text or tap, in turn; each user follows (a new friend), then writes, then taps,
    their events about `spread` events apart (0: side by side). Where a user's text or tap
    would come before any follow (the first `spread` events or so), a new friend of their
    own follows instead. `users` names a set of users no other set shares (the warm-up's,
    so that the measured follows are new friends too, not known residents)."""
    now_ms = int(time.time() * 1000)
    kinds = ("follow", "message", "postback")
    lag = spread // 3  # in turns of three events
    with path.open("w", encoding="utf-8") as out:
        n = 0
        for _ in range(requests_needed):
            events = []
            for _ in range(per_request):
                turn, kind = divmod(n, 3)
                person = turn - kind * lag
                if person < 0:
                    kind, key = 0, f"{users}early{n}"
                else:
                    key = f"{users}{person}"
                user = "U" + hashlib.md5(key.encode()).hexdigest()
                events.append(make_event(kinds[kind], user, now_ms))
                n += 1
            body = json.dumps(
                {"destination": DESTINATION, "events": events},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            out.write(sign(body.encode()) + "\t" + body + "\n")


class Process:
    """A subprocess in its own process group, stopped with its children."""

    def __init__(
        self, args: list[str], env: dict, health: str | None, log: Path | None = None
    ) -> None:
        err = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (the child's)
        self.proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        if log:
            err.close()  # the child holds its own descriptor
        if health:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(health, timeout=1).status_code == 200:
                        return
                except requests.RequestException:
                    time.sleep(0.2)
            self.stop()
            raise RuntimeError(f"{args[0]} did not start")

    def stop(self) -> None:
        """SIGINT (gunicorn: quick shutdown), then SIGKILL."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def gunicorn(app: str, env: dict, log: Path | None = None) -> tuple[Process, str]:
    """The shipped gunicorn.conf.py serving `app` on a free port (its stderr to `log`)."""
    port = free_port()
    binary = str(Path(sys.executable).parent / "gunicorn")
    url = f"http://127.0.0.1:{port}"
    env = {**env, "PORT": str(port)}
    return Process([binary, "-c", "gunicorn.conf.py", app], env, url + "/healthz", log), url


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pgids: set[int], parents: set[int] = frozenset()) -> float:
    """user+system CPU of the live processes in these process groups, or of these parents
    and their children (PostgreSQL's backends lead their own groups), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        # fields: 1 ppid, 2 pgrp, 11 utime, 12 stime
        if int(fields[2]) in pgids or pid in parents or int(fields[1]) in parents:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def wrk(
    url: str,
    script: Path,
    bodies: Path,
    args,
    pgids: set[int] = frozenset(),
    standin: int | None = None,
) -> dict:
    """One wrk run; returns its RESULT line as a dict with events/s, ms and CPU figures.

    CPU per event is measured beside the rates because the machine is shared: it does not
    depend on the load much, and 2 cores ÷ the CPU of one event is what idle cores could do.
    The LINE stand-in's share (`standin`, its process group) is given apart: real LINE
    does not run on our cores.
    """
    before = cpu_seconds(set(pgids), args.db_parents)
    standin_before = cpu_seconds({standin}) if standin else 0.0
    children = os.times()
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url + "/callback",
        "--",
        str(bodies),
        str(args.threads),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    after = os.times()
    events = max(1, result["requests"] * args.events_per_request)
    result["cpu_ms_per_event"] = (cpu_seconds(set(pgids), args.db_parents) - before) * 1000 / events
    if standin:
        result["standin_cpu_ms_per_event"] = (
            (cpu_seconds({standin}) - standin_before) * 1000 / events
        )
    wrk_cpu = (after.children_user + after.children_system) - (
        children.children_user + children.children_system
    )
    result["wrk_cpu_ms_per_event"] = wrk_cpu * 1000 / events
    seconds = result["duration_us"] / 1e6
    result["req_per_s"] = result["requests"] / seconds
    result["events_per_s"] = result["req_per_s"] * args.events_per_request
    for key in ("p50", "p90", "p99", "max"):
        result[f"{key}_ms"] = result[f"{key}_us"] / 1000
    return result


def show(name: str, r: dict, floor: dict | None = None) -> None:
    """One result line."""
    ratio = f"  {r['events_per_s'] / floor['events_per_s']:.2f}× floor" if floor else ""
    errors = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    print(
        f"{name:<14} {r['events_per_s']:8,.0f} events/s  p50 {r['p50_ms']:7.1f} ms  "
        f"p99 {r['p99_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms  errors {errors}"
        f"{ratio}  (load {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    print(
        f"{'':<14} CPU per event: server {r['cpu_ms_per_event']:.2f} ms (gunicorn, LINE "
        f"stand-in, database server), wrk {r['wrk_cpu_ms_per_event']:.2f} ms"
        + (
            f"; of the server's, the LINE stand-in {r['standin_cpu_ms_per_event']:.2f} ms"
            if "standin_cpu_ms_per_event" in r
            else ""
        ),
        flush=True,
    )


def register(engine, count: int, tmp: Path) -> None:
    """`count` residents registered before the run (benchmarks.segments_data's, imported as
    staff import them): the city the webhooks come to after a campaign, not an empty one."""
    from benchmarks.segments_data import write_jsonl
    from bot.config import load_config
    from bot.residents.importer import import_residents

    path = tmp / "residents.jsonl"
    write_jsonl(path, count, dt.datetime.now(ZoneInfo("Asia/Tokyo")).date())
    import_residents(engine, path, load_config(REPO / "config"))
    path.unlink()
    print(f"{'':<14} {count:,} residents registered before the bot's run", flush=True)


def warm_events(engine, warm: Path) -> int:
    """How many of the stored events came from the warm-up bodies."""
    from bot.store.models import WebhookEvent

    ids = [
        e["webhookEventId"]
        for line in warm.read_text(encoding="utf-8").splitlines()
        for e in json.loads(line.split("\t", 1)[1])["events"]
    ]
    with engine.connect() as conn:
        found = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            query = select(func.count()).where(WebhookEvent.webhook_event_id.in_(chunk))
            found += conn.execute(query).scalar_one()
    return found


def drain(engine, standin: str, timeout: float = 60) -> dict:
    """Wait until the outbox is empty; return the stand-in's counts and stored events."""
    from bot.store.models import ReplyOutbox, WebhookEvent

    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            left = conn.execute(select(func.count()).select_from(ReplyOutbox)).scalar_one()
            stored = conn.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()
        if left == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    stats = requests.get(standin + "/_stats", timeout=5).json()
    return {"outbox_left": left, "stored": stored, **stats}


def reply_delays(engine, bodies: Path, standin: str) -> list[float]:
    """Per answered event, ms from its transaction's start (webhook_events.received_at) to
    its reply's arrival at the stand-in: the resident's wait beyond the webhook's answer."""
    from bot.store.models import WebhookEvent

    arrivals = requests.get(standin + "/_arrivals", timeout=30).json()["arrivals"]
    arrived = {}
    for line in bodies.read_text(encoding="utf-8").splitlines():
        for e in json.loads(line.split("\t", 1)[1])["events"]:
            if e["replyToken"] in arrivals:
                arrived[e["webhookEventId"]] = arrivals[e["replyToken"]]
    with engine.connect() as conn:
        rows = conn.execute(select(WebhookEvent.webhook_event_id, WebhookEvent.received_at))
        return sorted(
            (arrived[event_id] - _epoch(received)) * 1000
            for event_id, received in rows
            if event_id in arrived
        )


def _epoch(value) -> float:
    from datetime import UTC

    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values lie (0 when there are none)."""
    return values[min(len(values) - 1, int(share * len(values)))] if values else 0.0


def run(args) -> None:
    """Floor, bot, bot with LINE hanging; one invocation."""
    from benchmarks.segments import analyze, fresh_schema
    from bot.store.engine import make_engine

    print(
        f"# webhook benchmark: {args.db.split(':')[0]}, {args.events_per_request} event(s) "
        f"per request, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"LINE answers after {args.line_delay_ms:.0f} ms; {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    standin, standin_url = start_standin(args.line_delay_ms, args.profile_language)
    engine = make_engine(args.db, timeout=None, create=True)
    env = {**os.environ, **bot_env(args.db, standin_url)}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script, bodies = Path(tmp) / "webhook.lua", Path(tmp) / "bodies.tsv"
            warm = Path(tmp) / "warm-up.tsv"
            script.write_text(LUA)
            write_bodies(bodies, args.bodies, args.events_per_request, spread=args.spread)
            write_bodies(warm, 5000, args.events_per_request, users="warm-up", spread=args.spread)
            # New events for the hang run: the bot run's would all be redeliveries.
            hang_bodies = Path(tmp) / "hang.tsv"
            write_bodies(
                hang_bodies, args.bodies, args.events_per_request, users="hang", spread=args.spread
            )
            warm_args = argparse.Namespace(**{**vars(args), "duration": args.warmup})
            if not args.skip_floor:
                server, url = gunicorn("benchmarks.webhook:floor_app()", env)
                try:
                    wrk(url, script, warm, warm_args)  # every worker imports, connects...
                    floor = wrk(
                        url,
                        script,
                        bodies,
                        argparse.Namespace(**{**vars(args), "db_parents": set()}),
                        {server.proc.pid},
                    )
                finally:
                    server.stop()
                show("floor", floor)
            else:
                floor = None
            fresh_schema(engine)
            if args.residents:
                register(engine, args.residents, Path(tmp))
                analyze(engine)  # as autovacuum has long done in a city that runs
            parts = Path(tmp) / "parts"
            parts.mkdir()
            bot_app = "benchmarks.cpu_parts:timed_bot()" if args.parts else "bot.app:create_app()"
            env["TODOKU_BENCH_PARTS"] = str(parts)
            server, url = gunicorn(bot_app, env, args.bot_log)
            try:
                wrk(url, script, warm, warm_args)
                drain(engine, standin_url)  # the warm-up's replies are out: count from zero
                requests.post(standin_url + "/_reset", timeout=5)
                if args.profile:
                    profile(server, args)
                groups = {server.proc.pid, standin.proc.pid}
                (parts / "active").touch()  # timed_bot's workers count from now
                bot = wrk(url, script, bodies, args, groups, standin.proc.pid)
                show("bot", bot, floor)
                counts = drain(engine, standin_url)  # ...until the last reply has left
                (parts / "active").unlink()
                counts["stored"] -= warm_events(engine, warm)
                if args.parts:
                    time.sleep(0.5)  # each worker writes its counts
                    print(f"{'':<14} where the bot's CPU went (benchmarks/cpu_parts.py):")
                    print("\n".join(merged(parts).report(counts["stored"])), flush=True)
                answered_twice = counts["duplicate_reply_tokens"] + counts["duplicate_retry_keys"]
                print(
                    f"{'':<14} accepted {bot['requests'] - bot['non2xx']:,} requests; stored "
                    f"{counts['stored']:,} events; answered {counts['reply_tokens']:,} by reply "
                    f"+ {counts['pushes']:,} by push; answered twice {answered_twice}; "
                    f"outbox left {counts['outbox_left']}",
                    flush=True,
                )
                delays = reply_delays(engine, bodies, standin_url)
                print(
                    f"{'':<14} event → reply at LINE (transaction start → reply arrives, "
                    f"{len(delays):,} events): p50 {percentile(delays, 0.5):.0f} ms, "
                    f"p99 {percentile(delays, 0.99):.0f} ms, max {percentile(delays, 1.0):.0f} ms",
                    flush=True,
                )
                if not args.skip_hang:
                    requests.post(standin_url + "/_hang", timeout=5)
                    hang_args = argparse.Namespace(**{**vars(args), "duration": args.hang_duration})
                    hung = wrk(url, script, hang_bodies, hang_args, groups, standin.proc.pid)
                    show("LINE hangs", hung, floor)
                    verdict = "held" if hung["max_ms"] < 2000 else "MISSED"
                    print(
                        f"{'':<14} LINE's 2 s deadline {verdict} (slowest answer "
                        f"{hung['max_ms']:.0f} ms)",
                        flush=True,
                    )
            finally:
                server.stop()
    finally:
        standin.stop()
        engine.dispose()


def profile(server: Process, args) -> None:
    """py-spy the workers during a wrk run (prints the top own-time frames)."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    out = Path(tempfile.mkdtemp()) / "profile.txt"
    spy = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.proc.pid),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "200",
            "--gil",  # only the thread holding the GIL: where the CPU goes
            "--nonblocking",
            "--duration",
            str(args.duration),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    print(f"# py-spy raw profile → {out}", flush=True)
    args.profile_process = spy


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=f"sqlite:///{REPO / 'var' / 'bench-webhook.db'}")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--hang-duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--line-delay-ms", type=float, default=50.0)
    parser.add_argument("--events-per-request", type=int, default=1)
    parser.add_argument("--bodies", type=int, default=60_000, help="distinct bodies written")
    parser.add_argument(
        "--spread", type=int, default=600, help="events between a user's follow, text and tap"
    )
    parser.add_argument(
        "--profile-language",
        default="",
        help="the new friends' LINE app language (e.g. en: their menu is linked, a LINE call)",
    )
    parser.add_argument(
        "--residents",
        type=int,
        default=100_000,
        help="residents registered before the bot's run (0: an empty table, as before 2026-12-06)",
    )
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--bot-log", type=Path, help="keep the bot's log (JSON lines) here")
    parser.add_argument("--skip-hang", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the bot's run")
    parser.add_argument(
        "--parts", action="store_true", help="the bot's CPU by part and statement (cpu_parts)"
    )
    parser.add_argument("--pg-data", help="PostgreSQL data directory: count its CPU too")
    args = parser.parse_args()
    args.db_parents = set()
    if args.pg_data:
        args.db_parents = {int((Path(args.pg_data) / "postmaster.pid").read_text().split()[0])}
    if args.db.startswith("sqlite:///"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    run(args)
    if getattr(args, "profile_process", None):
        args.profile_process.wait()


if __name__ == "__main__":
    main()
