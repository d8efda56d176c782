"""kill -9 while several batches are in flight, then resume: every resident gets one notice.

The send runs in a real child process (`python -m tests.dispatch.test_kill`) with
concurrent multicasts; linesim answers after 300 ms, so at any moment of the run several
requests are inside LINE. The test kills the child with SIGKILL mid-run — LINE still
completes the requests in flight, whose answers nobody reads — and resumes from the rows
alone in this process: stranded batches go again with their stored keys (409 = sent).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from bot.dispatch.resume import resume_unfinished
from bot.store.models import CampaignRun, Delivery, SendBatch
from tests.dispatch.conftest import FAST, NOW, multicasts, notices

REPO = Path(__file__).resolve().parents[2]
RESIDENTS = 6000  # 12 batches
IN_FLIGHT = 4  # the child's concurrency


def child(database_url: str, config_dir: str, line_url: str) -> None:
    """The killed process: one slot sent with IN_FLIGHT concurrent multicasts."""
    from dataclasses import replace

    from bot.clock import FixedClock
    from bot.dispatch.run import run_slot
    from bot.logs import configure_logging
    from bot.wiring import wire
    from tests.conftest import make_settings

    settings = make_settings(
        database_url,
        config_dir=Path(config_dir),
        line_api_base=line_url,
        line_api_data_base=line_url,
        line_timeout_seconds=5.0,
    )
    configure_logging("WARNING")  # nobody reads the child's output after the first line
    wiring = wire(settings, clock=FixedClock(NOW))
    print("started", flush=True)
    run_slot(wiring, "senior-2026", NOW, policy=replace(FAST, concurrency=IN_FLIGHT))


def pending_batches(wiring) -> list[str]:
    with wiring.session_factory() as session:
        return list(session.scalars(select(SendBatch.key).where(SendBatch.status == "pending")))


def test_kill_9_with_batches_in_flight_then_resume_sends_each_notice_once(
    line, people, sim, config_dir
):
    residents = people.crowd(RESIDENTS)
    sim.faults(latency_ms=300)
    url = line.settings.database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.dispatch.test_kill", url, str(config_dir), sim.base_url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        # Mid-run: some answers came back (and were settled or not), more are inside LINE.
        deadline = time.monotonic() + 60
        while len(multicasts(sim)) < 2 * IN_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the child finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.5)  # linesim finishes the requests the dead process left inside it
    stranded = pending_batches(line)
    accepted = {r["retry_key"] for r in multicasts(sim) if r["status"] == 200}
    assert len(stranded) >= 2, "several batches were recorded and unconfirmed at the kill"
    assert accepted & set(stranded), "LINE accepted batches whose answers the kill lost"

    sim.faults()  # LINE answers at once again
    done = resume_unfinished(line, policy=FAST)
    assert done["batches_resent"] == len(stranded) and done["runs_sent"] == 1

    assert all(len(notices(sim, u)) == 1 for u in residents)
    seen = defaultdict(set)
    for request in multicasts(sim):
        seen[request["retry_key"]].add(tuple(request["body"]["to"]))
    assert all(len(lists) == 1 for lists in seen.values())  # a resend is identical
    resent = [r for r in multicasts(sim) if r["retry_key"] in accepted & set(stranded)]
    assert 409 in {r["status"] for r in resent}  # accepted before the kill: not sent again
    with line.session_factory() as session:
        assert session.scalar(select(CampaignRun.status)) == "done"
        assert set(session.scalars(select(Delivery.status))) == {"sent"}
        assert set(session.scalars(select(SendBatch.status))) == {"sent"}
    sim.assert_no_problems()


if __name__ == "__main__":
    child(*sys.argv[1:4])
