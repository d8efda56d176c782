"""Replies leave through the outbox (issue 9 item 7): never holding the webhook past LINE's
2 seconds, and reaching the resident exactly once when LINE hangs, loses answers, the token
expires, LINE redelivers, or the process is killed (-9) after commit."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot.errors import InvalidReplyToken
from bot.registration.outbox import Pending, deliver, sender_for
from bot.store.models import ReplyOutbox
from tests.conftest import make_settings
from tests.server_process import ServerProcess


class Bot:
    """The bot served in a thread with chosen settings, talking to linesim."""

    def __init__(self, engine, clock, sim_url: str, **overrides) -> None:
        from bot.app import create_app
        from bot.wiring import wire

        settings = make_settings(
            engine.url.render_as_string(hide_password=False),
            line_api_base=sim_url,
            line_api_data_base=sim_url,
            **overrides,
        )
        self.wiring = wire(settings, clock=clock, engine=engine)
        self.app = create_app(wiring=self.wiring)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    @property
    def sender(self):
        return sender_for(self.app)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_bot(engine, clock, linesim_server):
    """Start bots with chosen settings; each is pointed at by linesim's webhook."""
    bots = []

    def start(**overrides) -> Bot:
        bot = Bot(engine, clock, linesim_server.url, **overrides)
        linesim_server.sim.sender.url = f"{bot.url}/callback"
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        bot.stop()


# Production: answer LINE at once; short timeouts and leases so the tests are quick.
FAST = {"reply_wait_seconds": 0.0, "reply_timeout_seconds": 0.5}


def _outbox(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(ReplyOutbox.webhook_event_id, ReplyOutbox.status)).all()


def _replies(sim, user: str) -> list[str]:
    """The Messaging API requests whose messages reached the resident (one per answer)."""
    timeline = sim.sim.state.users[user].timeline
    return list(dict.fromkeys(m["request_id"] for m in timeline if m.get("from") == "bot"))


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _sends(sim) -> list[dict]:
    return [
        r
        for r in sim.sim.state.requests
        if r["path"] in ("/v2/bot/message/reply", "/v2/bot/message/push")
    ]


def test_webhook_answers_at_once_when_line_never_answers(make_bot, linesim_server, engine):
    """LINE's API hangs: the webhook still answers in well under 2 s; the reply waits."""
    bot = make_bot(**FAST)
    linesim_server.sim.faults.configure({"timeout_rate": 1.0, "timeout_seconds": 5})
    users = [linesim_server.sim.state.create_user(f"住民{i}").user_id for i in range(20)]
    started = time.monotonic()
    results = [linesim_server.sim.follow(u) for u in users]
    took = time.monotonic() - started
    for result in results:
        [attempt] = result["webhook"]["attempts"]
        assert attempt["status"] == 200 and attempt["ms"] < 2000
    assert took < 20 * 0.5  # nothing waited for LINE's (absent) answer
    assert bot.app.test_client().get("/healthz").status_code == 200
    assert len(_outbox(engine)) == 20  # committed, waiting to be sent


def test_reply_lost_then_taken_over_arrives_once(make_bot, linesim_server, engine):
    """LINE delivers the reply but its answer is lost; the sweeper's retry is refused as a
    used token, which counts as sent: one welcome, no push."""
    bot = make_bot(**FAST)
    sim = linesim_server
    sim.sim.faults.configure({"lost_response_rate": 1.0})
    user = sim.sim.state.create_user("花子").user_id
    sim.sim.follow(user)
    _wait_for(lambda: len(_sends(sim)) == 1)
    assert len(_replies(sim, user)) == 1
    sim.sim.faults.configure({})
    time.sleep(1.6)  # the lease (3 × reply timeout) runs out
    assert bot.sender.sweep_once() == 1
    _wait_for(lambda: _outbox(engine) == [])
    assert len(_replies(sim, user)) == 1
    assert [r["endpoint"] for r in _sends(sim)] == ["reply", "reply"]


def test_a_reply_whose_transaction_used_most_of_its_lease_is_left_to_the_sweeper(
    make_bot, linesim_server, engine, monkeypatch
):
    """The lease (1.5 s here) counts from the start of the event's transaction. One that
    took 0.8 s left the sender less than the margin it needs (two reply timeouts): sending
    it then could outlast the lease while another process's sweeper sends it too. So it is
    left to the sweeper, which sends it once."""
    from linebot.v3.webhooks import FollowEvent

    from bot.registration import handlers

    bot = make_bot(**FAST)
    follow = handlers.HANDLERS[FollowEvent]

    def slow(ctx, event):
        replies = follow(ctx, event)
        time.sleep(0.8)  # e.g. a batch behind a slow disk
        return replies

    monkeypatch.setitem(handlers.HANDLERS, FollowEvent, slow)
    sim = linesim_server
    user = sim.sim.state.create_user("花子").user_id
    sim.sim.follow(user)
    time.sleep(0.3)
    assert _sends(sim) == []  # not sent by the process that wrote it
    assert _outbox(engine) != []
    time.sleep(1.0)  # the lease runs out
    assert bot.sender.sweep_once() == 1
    _wait_for(lambda: _outbox(engine) == [])
    assert len(_replies(sim, user)) == 1
    assert [r["endpoint"] for r in _sends(sim)] == ["reply"]


@pytest.mark.parametrize("resent", [True, False])
def test_a_token_refused_after_libcurl_sent_the_reply_twice_counts_as_sent(resent):
    """LINE delivered a reply, its kept connection died before the answer, and libcurl sent
    the reply again (bot.line.http, tested there against a real socket): LINE's refusal of
    the used token then counts as sent — no push, which would be a second welcome. A token
    refused on its only sending was never used: the reply is pushed instead (as before).
    (linesim closes every connection, so it cannot show libcurl's resend itself.)"""
    calls = []

    class Line:
        def reply_json(self, token, messages):
            calls.append("reply")
            raise InvalidReplyToken("reply: HTTP 400: invalid reply token", resent=resent)

        def push_json(self, user_id, messages, retry_key):
            calls.append("push")
            return "req-1"

    wiring = SimpleNamespace(line=Line(), settings=SimpleNamespace(reply_token_seconds=50))
    item = Pending(
        event_id="01EVENT",
        user_id="U" + "0" * 32,
        token="a" * 32,
        messages="[]",
        retry_key=str(uuid.uuid4()),
        received=datetime.now(UTC),
    )
    assert deliver(wiring, item) == "sent"
    assert calls == (["reply"] if resent else ["reply", "push"])


def test_reply_never_answered_is_sent_by_the_sweeper(make_bot, linesim_server, engine):
    """LINE does not answer (nothing delivered); the sweeper replies once it answers again."""
    bot = make_bot(**FAST)
    sim = linesim_server
    sim.sim.faults.configure({"timeout_rate": 1.0, "timeout_seconds": 3})
    user = sim.sim.state.create_user("花子").user_id
    sim.sim.follow(user)
    time.sleep(0.8)
    sim.sim.faults.configure({})
    time.sleep(1.0)
    assert bot.sender.sweep_once() == 1
    _wait_for(lambda: _outbox(engine) == [])
    assert len(_replies(sim, user)) == 1


def test_expired_token_is_pushed_once_with_a_retry_key(make_bot, linesim_server, engine):
    """The token is too old when the reply is taken over: pushed with the row's retry key;
    a lost answer to the push is retried with the same key (409 = sent)."""
    bot = make_bot(**FAST, reply_token_seconds=1.0)
    sim = linesim_server
    sim.sim.faults.configure({"timeout_rate": 1.0, "timeout_seconds": 2})
    user = sim.sim.state.create_user("花子").user_id
    sim.sim.follow(user)
    time.sleep(1.6)
    sim.sim.faults.configure({"lost_response_rate": 1.0})
    assert bot.sender.sweep_once() == 1
    _wait_for(lambda: len(_sends(sim)) == 2)
    sim.sim.faults.configure({})
    time.sleep(1.6)
    assert bot.sender.sweep_once() == 1
    _wait_for(lambda: _outbox(engine) == [])
    pushes = [r for r in _sends(sim) if r["endpoint"] == "push"]
    assert len(pushes) == 2 and pushes[0]["retry_key"] == pushes[1]["retry_key"]
    assert pushes[1]["status"] == 409
    assert len(_replies(sim, user)) == 1


def test_redelivery_sends_a_reply_left_behind(make_bot, linesim_server, engine):
    """LINE redelivers an event whose reply was committed but not sent: the redelivery
    sends it (once), and handles nothing twice."""
    make_bot(**FAST)
    sim = linesim_server
    sim.sim.faults.configure({"timeout_rate": 1.0, "timeout_seconds": 2})
    user = sim.sim.state.create_user("花子").user_id
    sim.sim.follow(user)
    time.sleep(1.6)
    sim.sim.faults.configure({})
    sim.sim.redeliver_last(user)
    _wait_for(lambda: _outbox(engine) == [])
    assert len(_replies(sim, user)) == 1


@pytest.mark.xdist_group("server-process")
def test_kill_9_after_commit_the_reply_still_arrives_once(engine, linesim_server):
    """kill -9 of the shipped web process while its reply hangs (committed, not sent); the
    restarted process's sweeper sends it: exactly one welcome."""
    url = engine.url.render_as_string(hide_password=False)
    env = {"TODOKU_REPLY_TIMEOUT_SECONDS": "1", "TODOKU_REPLY_SWEEP_SECONDS": "0.5"}
    sim = linesim_server
    first = ServerProcess(url, sim.url, **env).start()
    sim.sim.sender.url = f"{first.url}/callback"
    sim.sim.faults.configure({"timeout_rate": 1.0, "timeout_seconds": 30})
    user = sim.sim.state.create_user("花子").user_id
    assert sim.sim.follow(user)["webhook"]["status"] == 200
    _wait_for(lambda: len(_sends(sim)) >= 0 and len(_outbox(engine)) == 1)
    first.kill()
    sim.sim.faults.configure({})
    assert _replies(sim, user) == []
    second = ServerProcess(url, sim.url, **env).start()
    try:
        _wait_for(lambda: _outbox(engine) == [], timeout=30)
        time.sleep(1.5)  # a few more sweeps: nothing is sent twice
        assert len(_replies(sim, user)) == 1
    finally:
        second.stop()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ReplyOutbox)).scalar_one() == 0


def test_a_sent_reply_row_is_deleted_by_the_next_event(
    make_bot, linesim_server, engine, monkeypatch
):
    """A sent reply's row goes with the next webhook's transaction, not a transaction of its
    own (on SQLite another connection's commit costs the next one its page cache)."""
    monkeypatch.setattr("bot.registration.outbox.FLUSH_AFTER", 60.0)  # no flusher here
    make_bot(**(FAST | {"reply_timeout_seconds": 5.0}))
    sim = linesim_server
    first, second = (sim.sim.state.create_user(n).user_id for n in ("花子", "太郎"))
    sim.sim.follow(first)
    _wait_for(lambda: len(_sends(sim)) == 1)
    time.sleep(0.3)
    [(first_event, _)] = _outbox(engine)  # sent, its row still there
    assert sim.sim.follow(second)["webhook"]["status"] == 200
    assert first_event not in [event for event, _ in _outbox(engine)]
    _wait_for(lambda: len(_sends(sim)) == 2)
    assert len(_replies(sim, first)) == 1 and len(_replies(sim, second)) == 1


def test_sent_rows_taken_by_a_failed_event_are_deleted_all_the_same(
    make_bot, linesim_server, engine, monkeypatch
):
    """The next event's transaction fails after taking the sent rows: they are given back
    and deleted at once by the sender, without sending anything again."""
    from linebot.v3.webhooks import FollowEvent

    from bot.registration import handlers

    monkeypatch.setattr("bot.registration.outbox.FLUSH_AFTER", 60.0)
    make_bot(**(FAST | {"reply_timeout_seconds": 5.0}))  # a lease of 15 s: no sweeper meddles
    sim = linesim_server
    first, second = (sim.sim.state.create_user(n).user_id for n in ("花子", "太郎"))
    sim.sim.follow(first)
    _wait_for(lambda: len(_sends(sim)) == 1)
    time.sleep(0.3)
    assert len(_outbox(engine)) == 1

    def broken(ctx, event):
        raise RuntimeError("a handler's bug")

    monkeypatch.setitem(handlers.HANDLERS, FollowEvent, broken)
    assert sim.sim.follow(second)["webhook"]["status"] == 500
    _wait_for(lambda: _outbox(engine) == [], timeout=3)
    assert len(_sends(sim)) == 1 and len(_replies(sim, first)) == 1


def test_calls_after_a_commit_are_bounded_like_replies(monkeypatch):
    """LINE down for long while residents keep choosing languages: the links to make after
    their commits do not pile up without end in the process (as replies do not, beyond
    MAX_QUEUED); one past the bound is dropped — the next choice links the menu — and the
    others still run once LINE answers."""
    from bot.registration import outbox

    monkeypatch.setattr(outbox, "MAX_QUEUED", 2)
    settings = SimpleNamespace(reply_threads=4, reply_wait_seconds=0.0)
    sender = outbox.ReplySender(SimpleNamespace(settings=settings))
    line_answers = threading.Event()
    done: list[int] = []

    def link(n: int):
        def run() -> None:
            assert line_answers.wait(10)
            done.append(n)

        return run

    sender.send([], [link(1), link(2), link(3)])
    line_answers.set()
    _wait_for(lambda: sorted(done) == [1, 2])
    sender.send([], [link(4)])  # the queue has room again
    _wait_for(lambda: sorted(done) == [1, 2, 4])
    assert 3 not in done


def test_webhook_transactions_take_sent_rows_a_dozen_at_a_time(monkeypatch):
    """Under load, each transaction deleting the one or two replies sent since the last
    was ~5 % of an event's CPU: a transaction takes the sent rows once TAKE_AT_ONCE wait,
    or once the oldest has waited TAKE_AFTER (a quiet moment's lone reply); until then it
    takes none and they stay for a later one (or the flusher, after FLUSH_AFTER)."""
    from bot.registration import outbox

    monkeypatch.setattr(outbox, "FLUSH_AFTER", 60.0)  # the flusher stays out of it
    settings = SimpleNamespace(reply_threads=1, reply_wait_seconds=0.0)
    sender = outbox.ReplySender(SimpleNamespace(settings=settings))
    burst = [f"event-{n}" for n in range(outbox.TAKE_AT_ONCE)]
    for event_id in burst[:-1]:
        sender._finish(event_id)
    assert sender.take_sent() == []  # fresh and too few: left for a later transaction
    sender._finish(burst[-1])
    assert sender.take_sent() == burst  # a dozen and more: one DELETE for them all
    assert sender.take_sent() == []
    sender._finish("alone")
    assert sender.take_sent() == []
    time.sleep(outbox.TAKE_AFTER + 0.05)
    assert sender.take_sent() == ["alone"]  # waited long enough: the next event takes it
