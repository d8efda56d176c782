"""The web process's front (bot.web.front) on uvicorn's event loop, on both databases:
webhooks are checked in the loop and written by one thread per worker, each round with
every webhook that came in meanwhile — each event still stored and answered once, a
webhook the writer cannot write in time answered 500 (LINE delivers it again) and never
half-written, and a failed or dead writer never takes the next webhooks with it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import uvicorn
from sqlalchemy import func, select

from bot.registration import events as writing
from bot.registration import webhook
from bot.store.models import LANGUAGE_ASKING, Resident, WebhookEvent
from bot.web import front
from tests.conftest import settings_on_linesim
from tests.registration.chat import front_held
from tests.registration.test_group_commit import _answers, _follow, _users
from tests.webhooks import body_of, event, sign


@dataclass
class Front:
    """The bot behind AsgiFront, served by uvicorn in a thread, as a gunicorn worker does."""

    url: str
    app: object
    asgi: front.AsgiFront


@pytest.fixture
def served(request, engine, clock, linesim_server) -> Iterator[Front]:
    """The front served; `@pytest.mark.settings(name=value)` overrides settings."""
    from bot.app import create_app
    from bot.wiring import wire

    marker = request.node.get_closest_marker("settings")
    overrides = marker.kwargs if marker else {}
    settings = settings_on_linesim(engine, linesim_server, **overrides)
    app = create_app(wiring=wire(settings, clock=clock, engine=engine))
    asgi = front.AsgiFront(app, threads=4, keep_alive_max=16)
    config = uvicorn.Config(asgi, log_config=None, **front.TodokuWorker.CONFIG_KWARGS)
    server = uvicorn.Server(config)
    asgi.connections = server.server_state.connections
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _wait_for(lambda: server.started, "the server never started")
    yield Front(f"http://127.0.0.1:{sock.getsockname()[1]}", app, asgi)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _wait_for(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _post(url: str, body: str) -> int:
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}
    return requests.post(
        url + "/callback", data=body.encode(), headers=headers, timeout=30
    ).status_code


def _post_in_thread(url: str, body: str, statuses: dict, key) -> threading.Thread:
    thread = threading.Thread(target=lambda: statuses.__setitem__(key, _post(url, body)))
    thread.start()
    return thread


def _follow_body(linesim_server, user: str) -> str:
    return body_of(_follow(linesim_server, user))


def _count(engine, query) -> int:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def _stored(engine, users: list[str]) -> int:
    query = select(func.count()).select_from(Resident).where(Resident.line_user_id.in_(users))
    return _count(engine, query)


def _events(engine) -> int:
    return _count(engine, select(func.count()).select_from(WebhookEvent))


def _language(engine, user: str) -> str:
    """The language a resident's row holds ('' while it is being asked)."""
    with engine.connect() as conn:
        query = select(Resident.language).where(Resident.line_user_id == user)
        return conn.execute(query).scalar_one()


def test_concurrent_webhooks_are_written_once_each_and_only_by_the_writer_thread(
    served, linesim_server, engine, monkeypatch
):
    """Twelve new friends at once, one of them delivered twice: every request answered 200,
    each friend stored and welcomed once, their languages (asked of LINE by the reply
    threads) stored too — and every batch written on the worker's one writer thread."""
    writers: set[str] = set()
    batch = writing.EventWriter._write_batch

    def noted(self, slots):
        writers.add(threading.current_thread().name)
        return batch(self, slots)

    monkeypatch.setattr(writing.EventWriter, "_write_batch", noted)
    users = _users(linesim_server, 12)
    bodies = {user: _follow_body(linesim_server, user) for user in users}
    statuses: dict = {}
    threads = [_post_in_thread(served.url, body, statuses, user) for user, body in bodies.items()]
    threads.append(_post_in_thread(served.url, bodies[users[0]], statuses, "again"))
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == {**dict.fromkeys(users, 200), "again": 200}
    assert _stored(engine, users) == 12
    assert _events(engine) == 12  # the second delivery was not handled again
    _wait_for(lambda: all(_answers(linesim_server, u) == 1 for u in users), "a friend not welcomed")
    asking = select(func.count()).select_from(Resident).where(Resident.language == LANGUAGE_ASKING)
    _wait_for(lambda: _count(engine, asking) == 0, "a language never stored")
    assert writers == {"webhook-writer"}  # the reply threads' languages went in its batches
    time.sleep(0.3)
    assert all(_answers(linesim_server, u) == 1 for u in users)  # and nothing twice


def test_a_webhook_not_written_in_time_is_answered_500_and_a_queued_one_never_written(
    served, linesim_server, engine, monkeypatch
):
    """The database stuck (the writer's front place held): the webhook being written and
    the one queued behind it are both answered 500 within the timeout. The first is written
    once the database moves; the second was withdrawn. LINE's redeliveries are then each
    handled once."""
    monkeypatch.setattr(webhook, "write_timeout", lambda app: 0.5)
    writer = writing.writer_for(served.app)
    first, second = _users(linesim_server, 2)
    bodies = {user: _follow_body(linesim_server, user) for user in (first, second)}
    statuses: dict = {}
    with front_held(writer):
        started = time.monotonic()
        posting = [_post_in_thread(served.url, bodies[first], statuses, first)]
        _wait_for(lambda: len(writer._queue) == 1, "the first webhook never reached the writer")
        posting.append(_post_in_thread(served.url, bodies[second], statuses, second))
        _wait_for(lambda: len(statuses) == 2, "no answer while the database was stuck", 5)
        assert time.monotonic() - started < 2  # LINE's deadline
        assert statuses == {first: 500, second: 500}
    _wait_for(lambda: _stored(engine, [first]) == 1, "the begun webhook was never written")
    time.sleep(0.3)
    assert _stored(engine, [second]) == 0
    assert (_post(served.url, bodies[first]), _post(served.url, bodies[second])) == (200, 200)
    assert _stored(engine, [first, second]) == 2 and _events(engine) == 2
    _wait_for(lambda: _answers(linesim_server, second) == 1, "the redelivered one unanswered")
    assert _answers(linesim_server, first) == 1


def test_a_failed_round_fails_its_webhooks_and_the_next_round_runs(
    served, linesim_server, engine, monkeypatch
):
    write_many = webhook.write_many
    failures = iter([RuntimeError("the database went away")])

    def sometimes_failing(app, webhooks):
        failure = next(failures, None)
        if failure is not None and webhooks:
            raise failure
        return write_many(app, webhooks)

    monkeypatch.setattr(webhook, "write_many", sometimes_failing)
    first, second = _users(linesim_server, 2)
    assert _post(served.url, _follow_body(linesim_server, first)) == 500
    assert _stored(engine, [first]) == 0
    assert _post(served.url, _follow_body(linesim_server, second)) == 200
    assert _stored(engine, [second]) == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_thread_that_died_answers_500_and_a_new_one_takes_the_next_webhook(
    served, linesim_server, engine, monkeypatch
):
    write_many = webhook.write_many
    dying = iter([SystemExit()])

    def dies_once(app, webhooks):
        if (end := next(dying, None)) is not None:
            raise end
        return write_many(app, webhooks)

    monkeypatch.setattr(webhook, "write_many", dies_once)
    first, second = _users(linesim_server, 2)
    assert _post(served.url, _follow_body(linesim_server, first)) == 500
    _wait_for(lambda: not served.asgi._writer._thread.is_alive(), "the writer never ended")
    assert _post(served.url, _follow_body(linesim_server, second)) == 200
    assert _stored(engine, [first, second]) == 1
    assert served.asgi._writer._thread.is_alive()


def test_a_refused_webhook_is_answered_in_the_loop_without_the_writer(served, engine):
    body = body_of(event("follow", "U" + "1" * 32))
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body + " ")}
    answer = requests.post(
        served.url + "/callback", data=body.encode(), headers=headers, timeout=10
    )
    assert answer.status_code == 400 and _events(engine) == 0
    assert served.asgi._writer._thread is None  # never started: nothing to write


def _rounds(monkeypatch, *, languages_too: bool = False) -> list[int]:
    """How many webhooks each round of the writer thread wrote as it begins; with
    `languages_too` also the rounds for the reply threads' languages alone (0)."""
    rounds: list[int] = []
    write_many = webhook.write_many

    def counted(app, webhooks):
        if webhooks or languages_too:
            rounds.append(len(webhooks))
        return write_many(app, webhooks)

    monkeypatch.setattr(webhook, "write_many", counted)
    return rounds


@pytest.mark.settings(webhook_round_seconds=0.6, reply_wait_seconds=0)
def test_webhooks_that_come_during_a_round_share_the_next_one_and_a_quiet_start_waits_not(
    served, linesim_server, engine, monkeypatch
):
    """Under load the writer lets webhooks gather until `webhook_round_seconds` after the
    last round began, so several share a transaction; the first webhook after a quiet
    spell is written at once."""
    rounds = _rounds(monkeypatch)  # (the welcomes' languages' own rounds not counted)
    users = _users(linesim_server, 6)
    started = time.monotonic()
    assert _post(served.url, _follow_body(linesim_server, users[0])) == 200
    alone = time.monotonic() - started
    assert rounds == [1] and alone < 0.4  # nothing waited for: no round was being written

    writer = writing.writer_for(served.app)
    statuses: dict = {}
    with front_held(writer):  # the next round cannot end: the webhooks meanwhile queue
        threads = [_post_in_thread(served.url, _follow_body(linesim_server, users[1]), statuses, 1)]
        _wait_for(lambda: rounds == [1, 1], "the second webhook's round never began")
        for key in (2, 3):
            threads.append(
                _post_in_thread(served.url, _follow_body(linesim_server, users[key]), statuses, key)
            )
        _wait_for(lambda: len(served.asgi._writer._jobs) == 2, "the webhooks never queued")
    time.sleep(0.1)  # the round has ended; the next is not due yet: a fourth joins it
    threads.append(_post_in_thread(served.url, _follow_body(linesim_server, users[4]), statuses, 4))
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == dict.fromkeys((1, 2, 3, 4), 200)
    assert rounds == [1, 1, 3]  # the three that came during the second round, in one
    assert _stored(engine, users[:5]) == 5

    time.sleep(0.7)  # quiet: the next webhook is written at once
    started = time.monotonic()
    assert _post(served.url, _follow_body(linesim_server, users[5])) == 200
    assert time.monotonic() - started < 0.4
    assert rounds[-1] == 1 and _stored(engine, users) == 6


@pytest.mark.settings(reply_wait_seconds=0)  # the requests answer before their welcomes
def test_a_new_friends_language_goes_in_the_next_webhooks_round_or_alone_after_a_grace(
    served, linesim_server, engine, monkeypatch
):
    """The language a reply thread asks LINE for is stored with the next webhook's events
    when one comes within LANGUAGE_GRACE (no transaction of its own); with none coming, in
    a round of its own after it."""
    monkeypatch.setattr(front, "LANGUAGE_GRACE", 1.0)
    rounds = _rounds(monkeypatch, languages_too=True)
    writer = writing.writer_for(served.app)
    learned: list[str] = []
    learn = writer.learn

    def noted(user_id, lang):
        learned.append(user_id)
        return learn(user_id, lang)

    writer.sender.store_language = noted
    first, second = _users(linesim_server, 2)
    assert _post(served.url, _follow_body(linesim_server, first)) == 200
    _wait_for(lambda: learned == [first], "the reply thread never asked for the language")
    time.sleep(0.2)
    assert _language(engine, first) == LANGUAGE_ASKING  # waiting for a webhook's round
    assert _post(served.url, _follow_body(linesim_server, second)) == 200
    _wait_for(lambda: _language(engine, first) != LANGUAGE_ASKING, "the language never stored")
    assert rounds[:2] == [1, 1]  # stored in the second follow's round, none of its own
    _wait_for(lambda: _answers(linesim_server, first) == 1, "the first friend never welcomed")

    # The second friend's language: no webhook comes, so a round of its own, after the grace.
    _wait_for(lambda: len(learned) == 2, "the second friend's language never asked")
    asked = time.monotonic()
    _wait_for(lambda: _language(engine, second) != LANGUAGE_ASKING, "never stored alone")
    assert time.monotonic() - asked > 0.5 and rounds[2:] == [0]
    _wait_for(lambda: _answers(linesim_server, second) == 1, "the second friend never welcomed")
