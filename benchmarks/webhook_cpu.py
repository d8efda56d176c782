"""CPU per webhook event, one request at a time in one process, beside the bare floor.

    .venv/bin/python -m benchmarks.webhook_cpu --db sqlite:///var/bench-webhook-cpu.db
    .venv/bin/python -m benchmarks.webhook_cpu --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

`benchmarks.webhook` measures the rate under load, which on a shared 2-core machine moves
with whatever else runs; the CPU one event costs moves much less, and it is what the rate
on given cores is made of. One invocation here:
1. starts the LINE stand-in (benchmarks/line_standin.py), answering after `--line-delay-ms`;
2. the floor: `benchmarks.webhook.floor_app()` (the signature checked, the body parsed with
   the SDK) through Flask's test client, `--events` signed bodies one after another;
3. the bot: `bot.app.create_app()` on a fresh schema, the same way, after `--warmup` other
   events; then waits until every reply has left (the outbox is empty) and checks that the
   stand-in got one reply token per event.
It prints the process's CPU time (user + system, every thread: the request, the reply
threads, the logs written to /dev/null) per event for both, and their ratio, `--rounds`
times alternately, and with `--json` the figures as JSON. `--parts` also prints where the
bot's CPU went: each part of the webhook's path and each SQL statement at the driver, by
thread CPU time (benchmarks/cpu_parts.py; the wrappers add ~1 µs per call). The database
server's CPU is not counted (PostgreSQL's backends are other processes); the stand-in runs
in its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from benchmarks.cpu_parts import WEBHOOK_PARTS, PartTimer
from benchmarks.segments import fresh_schema
from benchmarks.webhook import REPO, bot_env, drain, start_standin, write_bodies


def cpu() -> float:
    """This process's CPU seconds so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bodies_of(path: Path) -> list[tuple[str, bytes]]:
    """The (signature, body) pairs written by benchmarks.webhook.write_bodies."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        signature, body = line.split("\t", 1)
        pairs.append((signature, body.encode()))
    return pairs


def post_all(client, pairs: list[tuple[str, bytes]]) -> None:
    """POST every body to /callback, one after another; every answer must be 200."""
    for signature, body in pairs:
        response = client.post(
            "/callback",
            data=body,
            headers={"X-Line-Signature": signature, "Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise SystemExit(f"/callback answered {response.status_code}")


@contextmanager
def stderr_to_devnull():
    """The app's JSON log lines are written (their cost counts) but not shown."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def measure(args) -> list[dict]:
    """Run the floor and the bot `--rounds` times; their CPU per event."""
    standin, standin_url = start_standin(args.line_delay_ms)
    os.environ.update(bot_env(args.db, standin_url))
    from benchmarks.webhook import floor_app
    from bot.app import create_app
    from bot.store.engine import make_engine

    engine = make_engine(args.db, timeout=None, create=True)
    results = []
    parts = PartTimer(WEBHOOK_PARTS if args.parts else ())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            floor_client = floor_app().test_client()
            for round_ in range(1, args.rounds + 1):
                # New users and events each round: the follows are new friends.
                path = Path(tmp) / f"bodies-{round_}.tsv"
                write_bodies(path, args.warmup + args.events, 1)
                pairs = bodies_of(path)
                warm, measured = pairs[: args.warmup], pairs[args.warmup :]

                post_all(floor_client, warm)
                before = cpu()
                post_all(floor_client, measured)
                floor = (cpu() - before) / len(measured)

                with stderr_to_devnull(), parts:
                    fresh_schema(engine)
                    app = create_app()
                    client = app.test_client()
                    post_all(client, warm)
                    drain(engine, standin_url)
                    requests.post(standin_url + "/_reset", timeout=5)
                    parts.reset()
                    before, started = cpu(), time.monotonic()
                    parts.active = True
                    post_all(client, measured)
                    posted = time.monotonic() - started
                    counts = drain(engine, standin_url)
                    parts.active = False
                    bot = (cpu() - before) / len(measured)
                    app.extensions["todoku.replies"].close()
                    app.extensions["todoku"].engine.dispose()
                answered = counts.get("reply_tokens", 0)
                twice = counts.get("duplicate_reply_tokens", 0)
                result = {
                    "round": round_,
                    "events": len(measured),
                    "floor_cpu_ms": round(floor * 1000, 3),
                    "bot_cpu_ms": round(bot * 1000, 3),
                    "ratio": round(bot / floor, 2),
                    "bot_ms_per_request": round(posted / len(measured) * 1000, 3),
                    "answered": answered,
                    "answered_twice": twice,
                    "outbox_left": counts["outbox_left"],
                }
                results.append(result)
                print(
                    f"round {round_}: floor {result['floor_cpu_ms']:.2f} ms CPU/event, "
                    f"bot {result['bot_cpu_ms']:.2f} ms CPU/event ({result['ratio']}× the floor), "
                    f"{result['bot_ms_per_request']:.2f} ms per request; answered {answered:,} "
                    f"of {len(measured):,}, twice {twice}, outbox left {counts['outbox_left']}",
                    flush=True,
                )
                if args.parts:
                    print("\n".join(parts.report(len(measured))), flush=True)
    finally:
        standin.stop()
        engine.dispose()
    return results


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=f"sqlite:///{REPO / 'var' / 'bench-webhook-cpu.db'}")
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--line-delay-ms", type=float, default=50.0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--parts", action="store_true", help="print the bot's CPU by part and by statement too"
    )
    args = parser.parse_args()
    (REPO / "var").mkdir(exist_ok=True)
    print(
        f"# webhook CPU per event: {args.db.split(':')[0]}, {args.events:,} events one at a "
        f"time, LINE answers after {args.line_delay_ms:g} ms; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = measure(args)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
