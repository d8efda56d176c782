"""The production web process under gunicorn (gunicorn.conf.py): JSON lines only, master
included; a client's connections spread over the workers and never wait to be let in."""

from __future__ import annotations

import http.client
import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.conftest import REPO, SAMPLE_CONFIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def shipped_gunicorn(tmp_path, **settings: str | None):
    """gunicorn with gunicorn.conf.py and one worker on a fresh SQLite file, LINE
    unreachable, and any further `settings` (environment variables; None unsets). Yields
    a namespace with its `port`; on leaving, stops it (SIGTERM) and puts what it logged in
    `stderr`."""
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
    env.update(settings)
    env.pop("GUNICORN_CMD_ARGS", None)
    env = {name: value for name, value in env.items() if value is not None}  # None: unset
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = SimpleNamespace(port=port, stderr="")
    # A file, not a pipe: a pipe nobody reads fills up, and the workers block writing
    # their access lines.
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "bot.app:create_app()"],
            cwd=REPO,
            env=env,
            stderr=out,
            stdout=out,
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
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        server.stderr = log.read_text(encoding="utf-8")


def test_gunicorn_master_and_workers_log_json(tmp_path):
    """Start-up, worker boot, access lines and shutdown: every stderr line is JSON."""
    with shipped_gunicorn(tmp_path) as server:
        pass
    err = server.stderr
    lines = [json.loads(line) for line in err.strip().splitlines()]  # fails on any non-JSON
    loggers = {line.get("logger") for line in lines}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers, loggers
    access = [line["event"] for line in lines if line.get("logger") == "gunicorn.access"]
    # The format gunicorn.conf.py ships: address, method and path (never the query), status,
    # bytes, seconds.
    assert any(re.fullmatch(r'127\.0\.0\.1 "GET /healthz" 200 \d+ \d+\.\d{6}s', a) for a in access)
    assert not any("do-not-log" in line for line in err.splitlines())


@pytest.mark.parametrize("told", [None, "2"])
def test_the_web_process_runs_a_worker_per_core_and_one_more_unless_told(tmp_path, told):
    """Without WEB_CONCURRENCY, one worker per core the process may use and one more (a
    worker uses about one core: its threads share one interpreter lock), at most 8 (each
    holds database connections); with it, as many as it says."""
    wanted = int(told) if told else min(len(os.sched_getaffinity(0)) + 1, 8)
    log = tmp_path / "gunicorn.log"
    with shipped_gunicorn(tmp_path, WEB_CONCURRENCY=told):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_booted(log.read_text())) < wanted:
            time.sleep(0.2)
        time.sleep(1)  # none more comes
        booted = _booted(log.read_text())
    assert len(booted) == wanted, booted


def _booted(log: str) -> set[str]:
    """The pids of the workers a gunicorn log says were booted."""
    return set(re.findall(r"Booting worker with pid: (\d+)", log))


def test_the_log_level_warning_leaves_out_access_lines_but_not_gunicorns_own(tmp_path):
    """TODOKU_LOG_LEVEL=WARNING: no line per request (the access line is written as the
    app's own lines are, at INFO); gunicorn's start-up and shutdown lines stay, as JSON."""
    with shipped_gunicorn(tmp_path, TODOKU_LOG_LEVEL="WARNING") as server:
        for _ in range(3):
            assert requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5).ok
    lines = [json.loads(line) for line in server.stderr.strip().splitlines()]
    loggers = {line.get("logger") for line in lines}
    assert "gunicorn.error" in loggers
    assert "gunicorn.access" not in loggers, server.stderr


def test_a_worker_keeps_few_idle_connections_so_a_client_spreads_over_the_workers(tmp_path):
    """A client that keeps many connections open (LINE, a proxy, a load generator) must not
    pin them all to one worker, which then works alone on one core while the others idle.
    A worker keeps at most `worker_connections` connections open; beyond them it answers
    with "Connection: close", so the client connects again and any worker may take it."""
    cap = runpy.run_path(str(REPO / "gunicorn.conf.py"))["worker_connections"]
    with shipped_gunicorn(tmp_path) as server:
        port = server.port
        connections = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(cap + 6)
        ]
        kept = []
        try:
            for conn in connections:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                assert response.status == 200
                kept.append(response.getheader("Connection", "keep-alive").lower() != "close")
            # A new client is still served.
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        finally:
            for conn in connections:
                conn.close()
    # A closed connection may still be counted when the next one is answered, so the one
    # after the first `cap` may be closed too; none before, and none kept after it.
    assert kept[:cap] == [True] * cap, kept
    assert not any(kept[cap + 1 :]), kept


def test_a_full_worker_lets_a_waiting_client_in_at_its_next_answer(tmp_path):
    """A worker holding as many connections as it keeps (`worker_connections`), each with its
    next request already sent (a busy client): a client still waiting to be accepted gets
    in at once, and the busy ones past the cap are answered with "Connection: close".
    gunicorn's own thread worker kept such connections open, and the waiting client waited
    as long as they stayed busy (a burst of webhooks over more connections than the
    workers hold: one waited 7.8 s)."""
    cap = runpy.run_path(str(REPO / "gunicorn.conf.py"))["worker_connections"] + 2
    request = b"GET /healthz HTTP/1.1\r\nHost: todoku\r\n\r\n"
    with shipped_gunicorn(tmp_path) as server:
        stop = threading.Event()
        closes = []

        def busy() -> None:
            sock = None
            while not stop.is_set():
                if sock is None:
                    sock, buffer = socket.create_connection(("127.0.0.1", server.port), 10), b""
                sock.sendall(request * 2)  # the next request waits while one is answered
                answered, closed = 0, False
                while answered < 2 and not closed:
                    data = sock.recv(65536)
                    closed = not data
                    buffer += data
                    while b"\r\n\r\n" in buffer and not closed:
                        head, _, rest = buffer.partition(b"\r\n\r\n")
                        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
                        if len(rest) < length:
                            break
                        buffer, answered = rest[length:], answered + 1
                        closed = b"connection: close" in head.lower()
                if closed:
                    closes.append(True)
                    sock.close()
                    sock = None
            if sock is not None:
                sock.close()

        clients = [threading.Thread(target=busy) for _ in range(cap)]
        for client in clients:
            client.start()
        try:
            time.sleep(1.0)  # every busy client connected and asking
            started = time.monotonic()
            try:
                status = requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
            except requests.Timeout:
                status = None
            waited = time.monotonic() - started
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=30)
    assert status is not None and status.status_code == 200, "the new client was never let in"
    assert waited < 1.5, f"the new client waited {waited:.1f} s to be answered"
    assert closes, "a full worker kept every busy connection open"


def test_the_shipped_server_verifies_bounds_and_writes_webhooks_on_kept_connections(tmp_path):
    """POST /callback through gunicorn as shipped (bot.web's front, not Flask): a signed
    webhook is written and answered 200; no signature or a wrong one 400, the connection
    kept; a body declared over the limit 413 before it is read, the connection closed.
    Every answer has its access line, without the query string."""
    from tests.webhooks import body_of, event, sign

    user = "U" + "1" * 32
    good = body_of(event("follow", user)).encode()
    with shipped_gunicorn(tmp_path) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:

            def post(body: bytes, signature: str | None, query: str = "") -> tuple[int, str]:
                headers = {"Content-Type": "application/json"}
                if signature is not None:
                    headers["X-Line-Signature"] = signature
                conn.request("POST", "/callback" + query, body=body, headers=headers)
                answer = conn.getresponse()
                return answer.status, answer.read().decode()

            assert post(good, None) == (400, "missing X-Line-Signature header\n")
            assert post(good, sign(good, "not-the-secret")) == (400, "invalid signature\n")
            # Declared over the limit: refused before its body is sent, the connection closed.
            with socket.create_connection(("127.0.0.1", server.port), 10) as raw:
                raw.sendall(
                    b"POST /callback HTTP/1.1\r\nHost: todoku\r\nX-Line-Signature: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n"
                )
                answer = b""
                while chunk := raw.recv(65536):
                    answer += chunk
            head, _, text = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413 "), head
            assert b"connection: close" in head.lower()
            assert text == f"body larger than {1024 * 1024} bytes\n".encode()
            assert post(good, sign(good, "s"), "?token=do-not-log") == (200, "OK\n")
            assert post(good, sign(good, "s")) == (200, "OK\n")  # the same event again: once
        finally:
            conn.close()
    engine = make_engine(f"sqlite:///{tmp_path / 'todoku.db'}")
    with engine.connect() as db:
        stored = db.exec_driver_sql("SELECT count(*) FROM webhook_events").scalar()
        friends = db.exec_driver_sql("SELECT count(*) FROM residents").scalar()
    engine.dispose()
    assert (stored, friends) == (1, 1)
    lines = [json.loads(line) for line in server.stderr.strip().splitlines()]
    access = [line["event"] for line in lines if line.get("logger") == "gunicorn.access"]
    posts = [a for a in access if '"POST /callback"' in a]
    assert sorted(a.split()[3] for a in posts) == ["200", "200", "400", "400", "413"], posts
    assert not any("do-not-log" in line for line in server.stderr.splitlines())
