"""The web process as shipped (gunicorn with gunicorn.conf.py) in a subprocess, for tests
that need real concurrency across worker processes or a kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bot.settings import DEMO_ACCESS_TOKEN, DEMO_CHANNEL_SECRET, DEMO_SECRET_KEY

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`gunicorn -c gunicorn.conf.py 'bot.app:create_app()'` in its own process group."""

    def __init__(self, database_url: str, line_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PORT": str(self.port),
            "DATABASE_URL": database_url,
            "TODOKU_CONFIG": str(REPO / "config"),
            "LINE_API_BASE": line_url,
            "LINE_API_DATA_BASE": line_url,
            "LINE_CHANNEL_SECRET": DEMO_CHANNEL_SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": DEMO_ACCESS_TOKEN,
            "TODOKU_SECRET_KEY": DEMO_SECRET_KEY,
            "TODOKU_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc: subprocess.Popen | None = None
        # Its log (warnings and errors, tracebacks included): a failed test shows its tail.
        self._log = tempfile.NamedTemporaryFile(prefix="todoku-server-", suffix=".log")  # noqa: SIM115 (lives as long as this object)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines the web process wrote, for a failed test's message."""
        text = Path(self._log.name).read_text(encoding="utf-8", errors="replace")
        return "web process log:\n" + "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = 60) -> ServerProcess:
        """Start and wait until /healthz answers."""
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.proc = subprocess.Popen(
            [gunicorn, "-c", "gunicorn.conf.py", "bot.app:create_app()"],
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the web process exited with {self.proc.returncode}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("the web process did not answer /healthz in time")

    def kill(self) -> None:
        """kill -9 the master and every worker at once (its process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """A quick stop (SIGINT), then kill -9 if it takes more than a few seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
