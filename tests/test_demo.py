"""`todoku demo` (what `make demo` runs): bot, linesim and scheduler, ready for staff."""

from __future__ import annotations

import json
import os
import re
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
        # The scheduler catches up open programs' latest slots on the demo clock: notices
        # arrive in the chats within a minute, at any hour and on any date.
        deadline = time.monotonic() + 60
        multicast = []
        while time.monotonic() < deadline and not multicast:
            sent = requests.get(f"http://127.0.0.1:{sim_port}/_sim/requests", timeout=10).json()
            multicast = [r for r in sent["requests"] if r["path"].endswith("/multicast")]
            time.sleep(0.5)
        assert multicast and all(r["status"] == 200 for r in multicast)
        # Links in notices lead to this demo's port (TODOKU_PUBLIC_URL derived from --port).
        links = re.findall(r'"uri": "([^"]+)"', json.dumps([r["body"] for r in multicast]))
        tracked = [u for u in links if "/r/" in u]
        assert tracked and all(u.startswith(f"http://127.0.0.1:{port}/r/") for u in tracked)
        assert requests.get(tracked[0], timeout=10, allow_redirects=False).status_code == 302
        assert (tmp_path / "var" / "demo.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
