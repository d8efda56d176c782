"""`todoku demo` (what `make demo` runs): bot, linesim and scheduler, ready for staff."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import REPO, SAMPLE_CONFIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_prints_urls_and_has_registered_sample_residents(tmp_path):
    """The demo starts, prints the chat page URL, and its sample residents get notices."""
    port, sim_port = _free_port(), _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "TODOKU_", "DATABASE"))
    }
    env["TODOKU_CONFIG"] = str(SAMPLE_CONFIG)
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", str(port), "--sim-port", str(sim_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Press Ctrl+C" in line or proc.poll() is not None:
                break
        output = "".join(lines)
        assert f"chat page (linesim): http://127.0.0.1:{sim_port}/" in output, output
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        assert (
            "LINE シミュレーター" in requests.get(f"http://127.0.0.1:{sim_port}/", timeout=10).text
        )
        users = requests.get(f"http://127.0.0.1:{sim_port}/_sim/users", timeout=10).json()["users"]
        assert len(users) >= 5 and all(u["following"] for u in users)
        # The scheduler catches up open programs' latest slots: notices arrive in the chats.
        deadline = time.monotonic() + 30
        multicast = []
        while time.monotonic() < deadline and not multicast:
            sent = requests.get(f"http://127.0.0.1:{sim_port}/_sim/requests", timeout=10).json()
            multicast = [r for r in sent["requests"] if r["path"].endswith("/multicast")]
            time.sleep(0.5)
        assert multicast and all(r["status"] == 200 for r in multicast)
        assert (tmp_path / "var" / "demo.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
