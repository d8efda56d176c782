"""Issue 9 item 9: sessions end at once (logout, password change, removal) in every process,
and failed logins are counted in the database, shared by all web processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from bot.admin.staff import change_password, remove_staff
from bot.settings import DEMO_ACCESS_TOKEN, DEMO_CHANNEL_SECRET, DEMO_SECRET_KEY
from tests.admin.conftest import STAFF_NAME, STAFF_PASSWORD, csrf_token, log_in
from tests.conftest import DEFAULT_NOW, REPO, SAMPLE_CONFIG
from tests.helpers import todoku


def _copy_of_cookie(client, app):
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_a_copied_cookie_stops_working_after_logout(app, staff_client):
    """Logout ends the session itself, not only the browser's copy of it."""
    stolen = _copy_of_cookie(staff_client, app)
    assert stolen.get("/admin/").status_code == 200
    token = csrf_token(staff_client, "/admin/")
    done = staff_client.post("/admin/logout", data={"csrf_token": token})
    assert done.headers["Location"] == "/admin/login?done=logout"
    assert "ログアウトしました" in staff_client.get(done.headers["Location"]).get_data(as_text=True)
    assert stolen.get("/admin/").status_code == 302
    # Logging in again gives a new session that works.
    assert log_in(staff_client).status_code == 302
    assert staff_client.get("/admin/").status_code == 200
    assert stolen.get("/admin/").status_code == 302


def test_password_change_and_removal_end_sessions(app, staff_client, wiring):
    """Both take effect with the very next request of every open session."""
    stolen = _copy_of_cookie(staff_client, app)
    change_password(wiring.session_factory, STAFF_NAME, "a-new-password-2026", DEFAULT_NOW, "cli")
    assert staff_client.get("/admin/").status_code == 302
    assert stolen.get("/admin/").status_code == 302
    assert log_in(staff_client, password="a-new-password-2026").status_code == 302
    assert staff_client.get("/admin/").status_code == 200
    remove_staff(wiring.session_factory, STAFF_NAME, DEFAULT_NOW, "cli")
    assert staff_client.get("/admin/").status_code == 302


def test_staff_passwd_and_remove_commands(engine, wiring, staff, client):
    """`todoku staff passwd NAME` asks twice; `todoku staff remove NAME`; both audited."""
    assert log_in(client).status_code == 302
    new = "haru-no-ogawa-2027"
    done = todoku(engine, "staff", "passwd", STAFF_NAME, stdin=f"{new}\n{new}\n")
    assert done.returncode == 0, done.stderr
    assert new not in done.stdout + done.stderr
    assert client.get("/admin/").status_code == 302
    assert log_in(client, password=STAFF_PASSWORD).status_code == 401
    assert log_in(client, password=new).status_code == 302
    unknown = todoku(engine, "staff", "remove", "だれか", stdin="")
    assert unknown.returncode == 1 and "登録されていません" in unknown.stderr
    assert todoku(engine, "staff", "remove", STAFF_NAME, stdin="").returncode == 0
    assert client.get("/admin/").status_code == 302
    from tests.helpers import audit

    actions = [action for _, action in audit(wiring)]
    assert "staff_password_changed" in actions and "staff_removed" in actions


def test_a_colleague_is_not_locked_out_from_their_own_desk(client, staff, clock):
    """Guessing from elsewhere blocks the guesser, not the member's usual address."""
    assert log_in(client, address="10.0.0.5").status_code == 302  # the member's desk
    for i in range(40):
        address = f"192.0.2.{i % 10}"  # 4 each: under the pair limit, over the name's
        log_in(client, password="guess-guess-guess", address=address)
    assert log_in(client, address="192.0.2.1").status_code == 429
    assert log_in(client, address="198.51.100.7").status_code == 429  # the name's slow limit
    assert log_in(client, address="10.0.0.5").status_code == 302
    # The windows move on: an hour later the name can be used from elsewhere again.
    clock.advance(timedelta(minutes=61))
    assert log_in(client, address="198.51.100.7").status_code == 302


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_processes(engine, staff):
    """Two separate web processes on the same database, like two gunicorn workers."""
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TODOKU_CONFIG": str(SAMPLE_CONFIG),
        "LINE_CHANNEL_SECRET": DEMO_CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": DEMO_ACCESS_TOKEN,
        "TODOKU_SECRET_KEY": DEMO_SECRET_KEY,
        "TODOKU_LOG_LEVEL": "WARNING",
    }
    procs, urls = [], []
    for _ in range(2):
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.admin.serve_one", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        procs.append(proc)
        urls.append(f"http://127.0.0.1:{port}")
    yield urls
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def _token(http: requests.Session, url: str) -> str:
    form = http.get(url, timeout=30, allow_redirects=False).text
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


def _attempt(url: str, password: str) -> int:
    with requests.Session() as http:
        data = {
            "csrf_token": _token(http, url + "/admin/login"),
            "name": STAFF_NAME,
            "password": password,
        }
        return http.post(
            url + "/admin/login", data=data, timeout=30, allow_redirects=False
        ).status_code


def test_limits_and_logout_hold_across_two_processes(two_processes):
    """A parallel burst over both processes gets 5 password checks, not 5 per process;
    a cookie logged out in one process is refused by the other."""
    urls = two_processes
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: _attempt(urls[i % 2], "guess-guess-guess"), range(24)))
    # Then one at a time, alternating: the shared count fills up to exactly 5 checks.
    codes += [_attempt(urls[i % 2], "guess-guess-guess") for i in range(8)]
    assert codes.count(401) == 5 and codes.count(429) == 32 - 5
    assert _attempt(urls[0], STAFF_PASSWORD) == 429
    assert _attempt(urls[1], STAFF_PASSWORD) == 429


def test_a_logout_in_one_process_ends_the_cookie_in_the_other(two_processes):
    """The cookie is copied to the second process; logout happens in the first."""
    urls = two_processes
    with requests.Session() as first, requests.Session() as second:
        data = {
            "csrf_token": _token(first, urls[0] + "/admin/login"),
            "name": STAFF_NAME,
            "password": STAFF_PASSWORD,
        }
        done = first.post(urls[0] + "/admin/login", data=data, allow_redirects=False)
        assert done.status_code == 302
        second.cookies.set("session", first.cookies.get("session"))
        assert second.get(urls[1] + "/admin/", allow_redirects=False).status_code == 200
        token = _token(first, urls[0] + "/admin/")
        out = first.post(
            urls[0] + "/admin/logout", data={"csrf_token": token}, allow_redirects=False
        )
        assert out.status_code == 302
        assert second.get(urls[1] + "/admin/", allow_redirects=False).status_code == 302


def test_a_webhook_opens_no_cookie_session_and_leaves_a_staff_session_alone(app, staff_client):
    """LINE's webhook is signed, not logged in: it gets Flask's null session (nothing can
    be written to a cookie) and its answer sets none, even from a browser logged in."""
    from flask import session
    from flask.sessions import NullSession

    from tests.webhooks import body_of, event, new_user_id, post

    with app.test_request_context("/callback", method="POST"):
        assert isinstance(session, NullSession)
    with app.test_request_context("/admin/", method="GET"):
        assert not isinstance(session, NullSession)  # staff pages keep their sessions

    response = post(staff_client, body_of(event("follow", new_user_id())))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert staff_client.get("/admin/").status_code == 200  # still logged in
