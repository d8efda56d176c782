"""The production web process under gunicorn logs JSON lines only, master included."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.conftest import REPO, SAMPLE_CONFIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_master_and_workers_log_json(tmp_path):
    """Start-up, worker boot, access lines and shutdown: every stderr line is JSON."""
    db = tmp_path / "todoku.db"
    engine = make_engine(f"sqlite:///{db}", create=True)
    upgrade(engine)
    engine.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "TODOKU_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        TODOKU_CONFIG=str(SAMPLE_CONFIG),
        PORT=str(port),
        WEB_CONCURRENCY="1",
        LINE_CHANNEL_SECRET="s",
        LINE_CHANNEL_ACCESS_TOKEN="t",
        TODOKU_SECRET_KEY="k",
        LINE_API_BASE="http://127.0.0.1:9",
        LINE_API_DATA_BASE="http://127.0.0.1:9",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", "bot.app:create_app()"],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                url = f"http://127.0.0.1:{port}/healthz?token=do-not-log"
                status = requests.get(url, timeout=5).status_code
            except (requests.ConnectionError, requests.Timeout):  # still booting
                time.sleep(0.5)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    lines = [json.loads(line) for line in err.strip().splitlines()]  # fails on any non-JSON
    loggers = {line.get("logger") for line in lines}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers, loggers
    access = [line["event"] for line in lines if line.get("logger") == "gunicorn.access"]
    # The format gunicorn.conf.py ships: address, method and path (never the query), status,
    # bytes, seconds.
    assert any(re.fullmatch(r'127\.0\.0\.1 "GET /healthz" 200 \d+ \d+\.\d{6}s', a) for a in access)
    assert not any("do-not-log" in line for line in err.splitlines())
