"""Webhook events that arrive while others are written go in one transaction (group commit,
bot.registration.events), on both databases — and each is still handled and answered once.

Each test holds the process's writer (as a batch being written would), posts webhooks
from several threads, waits until they are all queued behind it, and lets go: the next
thread in front writes them together.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from contextlib import contextmanager

import pytest
import requests
from linebot.v3.webhooks import FollowEvent
from sqlalchemy import event as sql_event
from sqlalchemy import func, select

from bot.registration import events as writing
from bot.registration import handlers, webhook
from bot.store.models import Resident, ResidentActivity, WebhookEvent
from messages import encode, say
from tests.helpers import mentions_year
from tests.registration.chat import Chat, front_held, register_quickly, texts
from tests.webhooks import body_of, event, postback_event, sign, text_event


def _post_status(url: str, body: str) -> int | None:
    """POST a signed webhook body; its status, or None when the process died holding it."""
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}
    try:
        return requests.post(
            url + "/callback", data=body.encode(), headers=headers, timeout=30
        ).status_code
    except requests.RequestException:
        return None


def _post(url: str, body: str, statuses: dict, key) -> None:
    statuses[key] = _post_status(url, body)


@contextmanager
def writer_held(live_bot):
    """Hold the writer's front place; yields a function that posts a body from a thread
    and waits until its events are queued. On leaving, lets go and waits for the answers."""
    writer = writing.writer_for(live_bot.app)
    statuses: dict = {}
    threads: list[threading.Thread] = []

    def post(key, body: str, queued_events: int = 1) -> None:
        expected = len(writer._queue) + queued_events
        thread = threading.Thread(target=_post, args=(live_bot.url, body, statuses, key))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 10
        while len(writer._queue) < expected:
            assert time.monotonic() < deadline, "the webhook never queued its events"
            time.sleep(0.01)

    try:
        with front_held(writer):
            yield post, statuses
    finally:
        for thread in threads:
            thread.join(timeout=30)


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _answers(linesim_server, user: str) -> int:
    """The bot's Messaging API requests that reached this resident (reply or push)."""
    timeline = linesim_server.sim.state.users[user].timeline
    return len({m["request_id"] for m in timeline if m.get("from") == "bot"})


def _users(linesim_server, n: int) -> list[str]:
    """Residents who have added the account on linesim (so messages reach them)."""
    state = linesim_server.sim.state
    users = [state.create_user(f"住民{i}") for i in range(n)]
    for user in users:
        state.set_following(user, True)
    return [user.user_id for user in users]


def _follow(linesim_server, user: str) -> dict:
    """A follow with a reply token linesim issued (so the reply is accepted)."""
    state = linesim_server.sim.state
    return event("follow", user, replyToken=state.issue_reply_token(state.users[user]))


def _postback(linesim_server, user: str, data: str) -> dict:
    state = linesim_server.sim.state
    return postback_event(user, data, replyToken=state.issue_reply_token(state.users[user]))


def _break_follows_of(broken_user: str, monkeypatch) -> None:
    """A bug in the follow handler that only this resident's follow meets."""
    follow = handlers.HANDLERS[FollowEvent]

    def sometimes_broken(ctx, event):
        if event.source.user_id == broken_user:
            raise RuntimeError("a handler's bug")
        return follow(ctx, event)

    monkeypatch.setitem(handlers.HANDLERS, FollowEvent, sometimes_broken)


def _rows(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).all()


def test_events_queued_behind_a_batch_are_written_in_one_transaction(
    live_bot, linesim_server, engine
):
    users = _users(linesim_server, 6)
    with writer_held(live_bot) as (post, statuses):
        for user in users:
            post(user, body_of(_follow(linesim_server, user)))
    assert statuses == dict.fromkeys(users, 200)
    stamps = _rows(engine, select(WebhookEvent.received_at))
    assert len(stamps) == 6 and len(set(stamps)) == 1  # one transaction stamped them all
    known = select(func.count()).select_from(Resident).where(Resident.line_user_id.in_(users))
    assert _rows(engine, known) == [(6,)]
    _wait_for(lambda: all(_answers(linesim_server, u) == 1 for u in users))


def test_events_that_come_while_the_front_waits_at_sqlites_gate_join_its_batch(
    live_bot, linesim_server, engine
):
    """SQLite: the thread in front waits at the write gate (another process is writing)
    while more webhooks come. Once past it, it writes their events with its own, in one
    transaction: they do not wait for a turn of their own at the gate (under load each
    front thread waited ~13 ms there, docs/benchmarks.md)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no write gate")
    writer = writing.writer_for(live_bot.app)
    users = _users(linesim_server, 3)
    statuses: dict = {}
    threads = [
        threading.Thread(
            target=_post,
            args=(live_bot.url, body_of(_follow(linesim_server, user)), statuses, user),
        )
        for user in users
    ]
    gate = os.open(live_bot.wiring.write_gate.path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(gate, fcntl.LOCK_EX)  # another process writing
        threads[0].start()
        _wait_for(lambda: writer._writing, timeout=5)  # its thread in front, at the gate
        for thread in threads[1:]:
            thread.start()
        # All three queued: the front takes its batch once past the gate, so its own
        # event is still in the queue too (>= 2 let the gate go with the third on its way).
        _wait_for(lambda: len(writer._queue) >= 3, timeout=5)
    finally:
        fcntl.flock(gate, fcntl.LOCK_UN)
        os.close(gate)
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == dict.fromkeys(users, 200)
    stamps = _rows(engine, select(WebhookEvent.received_at))
    assert len(stamps) == 3 and len(set(stamps)) == 1  # one transaction stamped them all
    _wait_for(lambda: all(_answers(linesim_server, u) == 1 for u in users))


def test_a_webhook_answers_when_its_batch_ends_while_the_next_batch_is_written(
    live_bot, linesim_server, engine
):
    """Under load the thread in front writes the events of waiting webhooks and goes on to
    the next batch. A webhook whose events are committed answers LINE then, not after that
    next batch (the wait for the front place was up to a tenth of a second under load)."""
    writer = writing.writer_for(live_bot.app)
    first, later = _users(linesim_server, 2)
    state = linesim_server.sim.state

    def text(user: str) -> str:  # from somebody not registered: answered at once
        return body_of(
            text_event(user, "こんにちは", replyToken=state.issue_reply_token(state.users[user]))
        )

    with writer_held(live_bot) as (post, statuses):
        post(first, text(first))
        # This test's thread is in front: it writes the waiting webhook's batch, then
        # holds the front place as if writing a next batch that does not end.
        writer._write_and_wake()
        _wait_for(lambda: first in statuses, timeout=5)
        assert statuses == {first: 200}
        post(later, text(later))  # waits for the front place
        time.sleep(0.2)
        assert later not in statuses
    assert statuses == {first: 200, later: 200}
    _wait_for(lambda: all(_answers(linesim_server, u) == 1 for u in (first, later)))


class _Interrupted(BaseException):
    """Not an Exception: what ends a thread mid-write (SystemExit, KeyboardInterrupt)."""


def test_a_batch_interrupted_mid_write_leaves_its_events_to_their_threads(
    live_bot, linesim_server, engine
):
    """The thread in front is interrupted writing a batch, not by an Exception. The
    webhooks whose events it held are woken and handle them alone, and answer LINE at
    once, while the front is still taken: they do not wait out the writer's timeout and
    answer 500."""
    writer = writing.writer_for(live_bot.app)
    users = _users(linesim_server, 2)
    state = linesim_server.sim.state

    def interrupted(batch):  # past the gate, the batch taken: then the interruption
        batch.extend(writer._take_batch())
        raise _Interrupted

    with writer_held(live_bot) as (post, statuses):
        for user in users:  # from somebody not registered: answered at once
            token = state.issue_reply_token(state.users[user])
            post(user, body_of(text_event(user, "こんにちは", replyToken=token)))
        writer._write_batch = interrupted
        try:
            with pytest.raises(_Interrupted):
                writer._write_and_wake()
        finally:
            del writer._write_batch
        _wait_for(lambda: len(statuses) == 2, timeout=writing.WEB_TIMEOUT - 1)
        assert statuses == dict.fromkeys(users, 200)
        assert not writer._queue
    assert _rows(engine, select(func.count()).select_from(WebhookEvent)) == [(2,)]
    _wait_for(lambda: all(_answers(linesim_server, u) == 1 for u in users))


def test_one_failing_event_fails_alone_and_the_rest_of_its_batch_is_written(
    live_bot, linesim_server, engine, monkeypatch
):
    users = _users(linesim_server, 5)
    broken_user = users[2]
    _break_follows_of(broken_user, monkeypatch)
    with writer_held(live_bot) as (post, statuses):
        for user in users:
            post(user, body_of(_follow(linesim_server, user)))
    assert statuses == {u: 500 if u == broken_user else 200 for u in users}
    stored = {u for (u,) in _rows(engine, select(Resident.line_user_id))}
    assert stored == set(users) - {broken_user}
    assert _rows(engine, select(func.count()).select_from(WebhookEvent)) == [(4,)]
    _wait_for(lambda: all(_answers(linesim_server, u) == 1 for u in stored))
    assert _answers(linesim_server, broken_user) == 0


def test_the_same_event_twice_in_one_batch_is_handled_and_answered_once(
    live_bot, linesim_server, engine
):
    [user] = _users(linesim_server, 1)
    body = body_of(_follow(linesim_server, user))
    with writer_held(live_bot) as (post, statuses):
        post("first", body)
        post("again", body)  # LINE's redelivery while the first is still queued
    assert statuses == {"first": 200, "again": 200}
    assert _rows(engine, select(func.count()).select_from(WebhookEvent)) == [(1,)]
    follows = select(func.count()).where(ResidentActivity.kind == "follow")
    assert _rows(engine, follows) == [(1,)]
    _wait_for(lambda: _answers(linesim_server, user) == 1)
    time.sleep(0.5)
    assert _answers(linesim_server, user) == 1


def test_one_round_of_several_webhooks_fails_only_the_webhook_whose_event_failed(
    live_bot, linesim_server, engine, monkeypatch
):
    """bot.web's writer thread hands the writer every webhook that came in meanwhile
    (handle_many): one webhook with a failing event fails alone, a webhook delivered twice
    in the round is handled once, each webhook's events in order."""
    users = _users(linesim_server, 4)
    broken_user = users[1]
    _break_follows_of(broken_user, monkeypatch)
    twice = _follow(linesim_server, users[3])
    raw = [
        [_follow(linesim_server, users[0]), _postback(linesim_server, users[0], encode("consent"))],
        [_follow(linesim_server, broken_user)],
        [_follow(linesim_server, users[2])],
        [twice],
        [twice],
    ]
    webhooks = [[webhook.parse_event(e) for e in events] for events in raw]
    writer = writing.writer_for(live_bot.app)
    results = writer.handle_many(webhooks)
    assert [isinstance(r, Exception) for r in results] == [False, True, False, False, False]
    stored = {u for (u,) in _rows(engine, select(Resident.line_user_id))}
    assert stored == set(users) - {broken_user}
    follows = select(func.count()).where(ResidentActivity.kind == "follow")
    assert _rows(engine, follows) == [(3,)]
    assert _rows(engine, select(func.count()).select_from(WebhookEvent)) == [(4,)]
    [(consented,)] = _rows(
        engine, select(Resident.consented_at).where(Resident.line_user_id == users[0])
    )
    assert consented is not None  # the follow, then the tap on its consent button


def test_a_follow_and_the_consent_tap_in_one_batch_are_handled_in_order(
    live_bot, linesim_server, engine
):
    [user] = _users(linesim_server, 1)
    with writer_held(live_bot) as (post, statuses):
        post("follow", body_of(_follow(linesim_server, user)))
        post("consent", body_of(_postback(linesim_server, user, encode("consent"))))
        post(
            "both",
            body_of(
                _follow(linesim_server, user), _postback(linesim_server, user, encode("later"))
            ),
            2,
        )
    assert statuses == {"follow": 200, "consent": 200, "both": 200}
    [(consented, dialog)] = _rows(
        engine, select(Resident.consented_at, Resident.dialog).where(Resident.line_user_id == user)
    )
    assert consented is not None and dialog.get("step")  # registered; the first question open
    assert len(set(_rows(engine, select(WebhookEvent.received_at)))) == 1
    _wait_for(lambda: _answers(linesim_server, user) == 4)


def test_a_batch_reads_its_residents_at_once_and_a_second_event_sees_the_first(
    sim, live_bot, linesim_server, engine
):
    """Several residents' events in one batch: their rows are read in one query before the
    handlers (the ORM's setup of a query cost more than the row). A resident's second event
    in the batch reads them again and sees what the first did: after 削除する, their 確認
    tap finds nothing registered and says so, as it would in a batch of its own — never
    the deleted answers."""
    chat = Chat(sim)
    register_quickly(chat)  # born 1958-07-03, 大倉
    chat.new()
    user = chat.user_id
    answered = _answers(linesim_server, user)
    others = _users(linesim_server, 2)
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM residents" in statement and "residents.line_user_id" in statement:
            reads.append(statement)

    with writer_held(live_bot) as (post, statuses):
        sql_event.listen(engine, "before_cursor_execute", count)
        post("delete", body_of(_postback(linesim_server, user, encode("delete", v="yes"))))
        for other in others:
            post(other, body_of(_follow(linesim_server, other)))
        post("review", body_of(_postback(linesim_server, user, encode("menu", v="review"))))
    sql_event.remove(engine, "before_cursor_execute", count)
    assert statuses == {"delete": 200, **dict.fromkeys(others, 200), "review": 200}
    # One read for the batch's three residents, one for the resident's second event.
    assert len(reads) == 2, reads
    _wait_for(lambda: _answers(linesim_server, user) == answered + 2)
    shown = texts(chat.new())
    assert say("deleted", "ja") in shown
    assert say("not_registered", "ja") in shown
    assert "大倉" not in shown and not mentions_year(shown, 1958)
    [(consented, district)] = _rows(
        engine,
        select(Resident.consented_at, Resident.district).where(Resident.line_user_id == user),
    )
    assert consented is None and district is None


def test_a_residents_later_taps_in_a_batch_see_the_earlier_ones_without_reading_again(
    sim, live_bot, linesim_server, engine
):
    """A registered resident taps 配信の停止・再開 three times and their events land in one
    batch: each tap sees the one before (停止, 再開, 停止: paused at the end), from the
    row read ahead for the batch — no second read of the resident."""
    chat = Chat(sim)
    register_quickly(chat)
    chat.new()
    user = chat.user_id
    answered = _answers(linesim_server, user)
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        where = statement.partition("WHERE")[2]
        if "FROM residents" in statement and "line_user_id" in where:  # not their family
            reads.append(statement)

    with writer_held(live_bot) as (post, statuses):
        sql_event.listen(engine, "before_cursor_execute", count)
        for tap in range(3):
            post(tap, body_of(_postback(linesim_server, user, encode("menu", v="pause"))))
    sql_event.remove(engine, "before_cursor_execute", count)
    assert statuses == {0: 200, 1: 200, 2: 200}
    assert len(reads) == 1, reads
    _wait_for(lambda: _answers(linesim_server, user) == answered + 3)
    paused, resumed = say("paused", "ja"), say("resumed", "ja")
    notes = re.finditer(f"{re.escape(paused)}|{re.escape(resumed)}", texts(chat.new()))
    # The replies race to LINE on the reply threads: their order is not the taps'. Taps
    # reading a stale row would all have said 停止.
    assert sorted(note.group(0) for note in notes) == sorted([paused, resumed, paused])
    [(paused,)] = _rows(
        engine, select(Resident.notices_paused).where(Resident.line_user_id == user)
    )
    assert paused is True


def test_a_new_friends_events_after_their_follow_in_one_batch_read_them_once(
    live_bot, linesim_server, engine
):
    """A new friend's follow stores them with a statement of its own, so their next event in
    the batch reads them; the events after that use what it read."""
    [user] = _users(linesim_server, 1)
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        where = statement.partition("WHERE")[2]
        if "FROM residents" in statement and "line_user_id" in where:
            reads.append(statement)

    with writer_held(live_bot) as (post, statuses):
        sql_event.listen(engine, "before_cursor_execute", count)
        post("follow", body_of(_follow(linesim_server, user)))
        post("consent", body_of(_postback(linesim_server, user, encode("consent"))))
        post("pause", body_of(_postback(linesim_server, user, encode("menu", v="pause"))))
    sql_event.remove(engine, "before_cursor_execute", count)
    assert statuses == {"follow": 200, "consent": 200, "pause": 200}
    assert len(reads) == 2, reads  # the batch's, and the consent's
    [(consented, paused)] = _rows(
        engine,
        select(Resident.consented_at, Resident.notices_paused).where(Resident.line_user_id == user),
    )
    assert consented is not None and paused  # the menu needs consent: the tap saw it
    _wait_for(lambda: _answers(linesim_server, user) == 3)


@pytest.mark.parametrize("events_in_webhook", [1, 3])
def test_a_webhook_that_waits_too_long_for_the_writer_fails_and_leaves_nothing_queued(
    live_bot, linesim_server, engine, monkeypatch, events_in_webhook
):
    """The writer is stuck (a batch that does not end): the webhook gives up with 500
    after the web timeout, and its events do not linger to be written later."""
    writer = writing.writer_for(live_bot.app)
    monkeypatch.setattr(writer, "timeout", 0.3)
    users = _users(linesim_server, events_in_webhook)
    body = body_of(*(_follow(linesim_server, u) for u in users))
    statuses: dict = {}
    with front_held(writer):
        _post(live_bot.url, body, statuses, "stuck")
        assert writer._queue == []
    assert statuses == {"stuck": 500}
    assert _rows(engine, select(func.count()).select_from(WebhookEvent)) == [(0,)]


def test_two_processes_batches_over_the_same_residents_never_deadlock(
    backend, wiring, engine, monkeypatch
):
    """Two web processes each write a batch with the same two residents, in opposite
    orders. Each batch locks its residents in one order before handling any event, so
    neither holds one while waiting for the other's: both commit as batches, at once.
    (Without it PostgreSQL finds the deadlock after a second and one batch falls back to
    one transaction per event.) SQLite has one writer: nothing to race."""
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    from bot.registration.outbox import ReplySender
    from bot.registration.webhook import parse_event
    from tests.helpers import in_thread, wait_for_lock_waits
    from tests.webhooks import new_user_id

    first, second = (writing.EventWriter(wiring, ReplySender(wiring), 10.0) for _ in range(2))
    x, y = new_user_id(), new_user_id()
    for user in (x, y):  # x gets the lower id
        first.handle([parse_event(event("follow", user))])

    def batch(writer, users):
        writer.handle([parse_event(text_event(user, "こんにちは")) for user in users])

    with engine.connect() as holder, engine.connect() as probe:
        holder.execute(select(Resident.id).where(Resident.line_user_id == x).with_for_update())
        second_batch, second_outcome = in_thread(lambda: batch(second, [x, y]))
        wait_for_lock_waits(probe, 1)  # the second process waits for x
        first_batch, first_outcome = in_thread(lambda: batch(first, [y, x]))
        wait_for_lock_waits(probe, 2)  # the first process waits too
        released = time.monotonic()
        holder.rollback()
        second_batch.join(10)
        first_batch.join(10)
    took = time.monotonic() - released
    assert first_outcome == [None] and second_outcome == [None]  # no error
    texts = select(WebhookEvent.received_at).where(WebhookEvent.event_type == "message")
    stamps = [stamp for (stamp,) in _rows(engine, texts)]
    assert len(stamps) == 4 and len(set(stamps)) == 2  # two batches, neither fell apart
    assert took < 0.9  # PostgreSQL's deadlock check waits a second


def test_a_deletion_alone_and_a_batch_with_a_deletion_never_deadlock(backend, wiring, engine):
    """One process writes a batch of several residents: a's 削除する, then b's message.
    Another writes b's 削除する alone. A deletion's trigger takes the lock between deleting
    residents and recording deliveries (queries.RESIDENTS_LOCK); the batch holds it when it
    comes to b. Had the lone event locked b's row without first taking b's resident lock
    (as batches of one did: CI's double tap on 削除する), it would wait for that lock while
    holding b: a deadlock, found after a second. Both commit at once instead."""
    if backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    from bot.registration.outbox import ReplySender
    from bot.registration.webhook import parse_event
    from bot.store import queries
    from tests.helpers import in_thread, wait_for_lock_waits
    from tests.webhooks import new_user_id

    first, second = (writing.EventWriter(wiring, ReplySender(wiring), 10.0) for _ in range(2))
    a, b = new_user_id(), new_user_id()
    for user in (a, b):
        first.handle([parse_event(event("follow", user))])
        first.handle([parse_event(postback_event(user, encode("consent")))])

    def delete(user: str):
        return parse_event(postback_event(user, encode("delete", v="yes")))

    with engine.connect() as holder, engine.connect() as probe:
        holder.execute(select(func.pg_advisory_xact_lock(func.hashtext(queries.RESIDENTS_LOCK))))
        batch, batch_outcome = in_thread(
            lambda: first.handle([delete(a), parse_event(text_event(b, "こんにちは"))])
        )
        wait_for_lock_waits(probe, 1)  # the batch has deleted a and waits for the lock
        alone, alone_outcome = in_thread(lambda: second.handle([delete(b)]))
        wait_for_lock_waits(probe, 2)  # b's deletion waits too
        released = time.monotonic()
        holder.rollback()
        batch.join(10)
        alone.join(10)
    took = time.monotonic() - released
    [batch_written], [alone_written] = batch_outcome, alone_outcome  # no error
    assert [item.user_id for item in batch_written.replies] == [a, b]  # each event answered
    assert [item.user_id for item in alone_written.replies] == [b]
    stamps = _rows(
        engine,
        select(WebhookEvent.received_at).where(
            WebhookEvent.event_type.in_(["postback", "message"])
        ),
    )
    assert len(stamps) == 3 + 2  # two consents before; both deletions and the message
    consented = select(func.count()).where(
        Resident.line_user_id.in_([a, b]), Resident.consented_at.is_not(None)
    )
    assert _rows(engine, consented) == [(0,)]  # both residents' answers deleted
    assert took < 0.9  # PostgreSQL's deadlock check waits a second


def test_a_failed_batch_keeps_the_order_of_a_webhook_split_across_batches(
    live_bot, linesim_server, engine, monkeypatch
):
    """A webhook's first event is in a batch that fails, its second still queued behind
    it: both are handled alone by their own thread, first the first."""
    monkeypatch.setattr(writing, "MAX_BATCH", 2)
    broken_user, user = _users(linesim_server, 2)
    _break_follows_of(broken_user, monkeypatch)
    with writer_held(live_bot) as (post, statuses):
        post("broken", body_of(_follow(linesim_server, broken_user)))
        both = body_of(
            _follow(linesim_server, user), _postback(linesim_server, user, encode("consent"))
        )
        post("both", both, 2)  # the follow goes with the broken one, the consent waits
    assert statuses == {"broken": 500, "both": 200}
    stamps = _rows(
        engine, select(WebhookEvent.event_type, WebhookEvent.received_at).order_by("received_at")
    )
    assert [kind for kind, _ in stamps] == ["follow", "postback"]
    [consented] = _rows(engine, select(Resident.consented_at).where(Resident.line_user_id == user))
    assert consented[0] is not None


def _text(linesim_server, user: str, text: str) -> dict:
    state = linesim_server.sim.state
    return text_event(user, text, replyToken=state.issue_reply_token(state.users[user]))


@pytest.mark.xdist_group("server-process")
def test_kill_9_while_a_batch_waits_then_every_event_is_handled_once_after_redelivery(
    backend, engine, linesim_server
):
    """The shipped web process (its default workers × 8 threads) is killed (-9) while a batch of
    webhooks is being written (held at a resident's row on PostgreSQL, at SQLite's write
    gate) and more wait behind it. Nothing of it was committed; LINE delivers the webhooks
    again to a new process: every event handled once, every resident answered once."""
    import fcntl

    from bot.store.engine import sqlite_file
    from tests.helpers import wait_for_lock_waits
    from tests.server_process import ServerProcess

    url = engine.url.render_as_string(hide_password=False)
    users = _users(linesim_server, 6)
    first = ServerProcess(url, linesim_server.url).start()
    try:
        for user in users:  # they are residents, each welcomed once
            assert _post_status(first.url, body_of(_follow(linesim_server, user))) == 200
        bodies = [body_of(_text(linesim_server, user, "こんにちは")) for user in users]
        with engine.connect() as holder, engine.connect() as probe:
            if backend == "postgresql":
                holder.execute(
                    select(Resident.id).where(Resident.line_user_id.in_(users)).with_for_update()
                )
            else:
                gate = open(f"{sqlite_file(url)}-writers.lock", "a+")  # noqa: SIM115
                fcntl.flock(gate, fcntl.LOCK_EX)
            threads = [
                threading.Thread(target=_post_status, args=(first.url, body)) for body in bodies
            ]
            for thread in threads:
                thread.start()
            if backend == "postgresql":
                wait_for_lock_waits(probe, 1)  # not `holder`: its rollback would let go
            time.sleep(0.5)  # well inside the web timeout (3 s) the batch would wait
            first.kill()
            holder.rollback()
            if backend != "postgresql":
                fcntl.flock(gate, fcntl.LOCK_UN)
                gate.close()
        for thread in threads:
            thread.join(timeout=30)
        texts = select(func.count()).where(WebhookEvent.event_type == "message")
        assert _rows(engine, texts) == [(0,)]  # nothing of the batch was committed
    finally:
        first.kill()
    second = ServerProcess(url, linesim_server.url).start()
    try:
        for body in bodies:  # LINE's redelivery
            assert _post_status(second.url, body) == 200
        assert _rows(engine, texts) == [(6,)]
        _wait_for(lambda: all(_answers(linesim_server, u) == 2 for u in users))
        time.sleep(1.0)  # nothing more arrives
        assert [_answers(linesim_server, u) for u in users] == [2] * 6
    finally:
        second.stop()
