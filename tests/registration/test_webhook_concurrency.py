"""Concurrent events of one resident never give a 500 (issue 9 item 3), on both databases.

Real concurrent HTTP requests against the web process as shipped (gunicorn, several worker
processes and threads), talking to linesim: a follow and the consent tap together, two
follows at once, a double tap on 削除する, two taps on the same question, a burst of new
friends in English (their menus linked after the commit).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from bot.store.models import Resident, ResidentActivity
from messages import encode, say
from tests.registration.chat import texts
from tests.server_process import ServerProcess
from tests.webhooks import body_of, event, postback_event, sign

pytestmark = pytest.mark.xdist_group("server-process")

RESIDENTS = 12


@pytest.fixture
def server(engine, linesim_server):
    """The shipped web process on the test database; linesim is LINE."""
    running = ServerProcess(
        engine.url.render_as_string(hide_password=False), linesim_server.url
    ).start()
    yield running
    running.stop()


def _post_together(url: str, bodies: list[str]) -> list[int]:
    """POST every body at the same moment (a barrier), each on its own connection."""
    barrier = threading.Barrier(len(bodies))

    def one(body: str) -> int:
        headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}
        barrier.wait()
        return requests.post(
            url + "/callback", data=body.encode(), headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def _users(sim, n: int) -> list[str]:
    return [sim.sim.state.create_user(f"住民{i}").user_id for i in range(n)]


def _count(engine, query) -> int:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_follow_and_consent_together_never_500(server, engine, linesim_server):
    """Each resident's follow, a second follow and the consent tap arrive at once."""
    users = _users(linesim_server, RESIDENTS)
    bodies = []
    for user in users:
        bodies += [
            body_of(event("follow", user)),
            body_of(event("follow", user)),
            body_of(postback_event(user, encode("consent"))),
        ]
    statuses = _post_together(server.url, bodies)
    assert statuses == [200] * len(bodies), server.log_tail()
    per_user = select(func.count()).select_from(Resident).where(Resident.line_user_id.in_(users))
    assert _count(engine, per_user) == RESIDENTS  # one row each, never two
    consented = per_user.where(Resident.consented_at.is_not(None))
    assert _count(engine, consented) == RESIDENTS
    follows = select(func.count()).where(ResidentActivity.kind == "follow")
    assert _count(engine, follows) == 2 * RESIDENTS  # every event handled


def test_double_tap_on_delete_never_500(server, engine, linesim_server):
    """削除する tapped twice at once (and with another tap) for several residents."""
    users = _users(linesim_server, RESIDENTS)
    setup = []
    for user in users:
        setup += [body_of(event("follow", user)), body_of(postback_event(user, encode("consent")))]
    for body in setup:  # one after the other: the residents exist and have consented
        assert _post_together(server.url, [body]) == [200]
    bodies = []
    for user in users:
        bodies += [
            body_of(postback_event(user, encode("delete", v="yes"))),
            body_of(postback_event(user, encode("delete", v="yes"))),
            body_of(postback_event(user, encode("menu", v="review"))),
        ]
    statuses = _post_together(server.url, bodies)
    assert statuses == [200] * len(bodies), server.log_tail()
    per_user = select(func.count()).select_from(Resident).where(Resident.line_user_id.in_(users))
    assert _count(engine, per_user) == RESIDENTS  # the follower row stays, once
    consented = per_user.where(Resident.consented_at.is_not(None))
    assert _count(engine, consented) == 0  # every answer deleted


def test_two_taps_on_one_question_never_500(server, engine, linesim_server):
    """Two different answers to the same open question at once: one wins, no error."""
    users = _users(linesim_server, RESIDENTS)
    for user in users:
        for body in (
            body_of(event("follow", user)),
            body_of(postback_event(user, encode("consent"))),
        ):
            assert _post_together(server.url, [body]) == [200]
    with engine.connect() as conn:
        dialogs = dict(conn.execute(select(Resident.line_user_id, Resident.dialog)).all())
    bodies = []
    for user in users:
        state = dialogs[user]
        for answer in ("later", "skip"):
            data = encode(answer if answer == "later" else "skip", q=state["step"], t=state["t"])
            bodies.append(body_of(postback_event(user, data)))
    statuses = _post_together(server.url, bodies)
    assert statuses == [200] * len(bodies), server.log_tail()


def test_new_friends_in_english_at_once_each_get_their_menu(server, engine, linesim_server):
    """A burst of new friends whose LINE app is in English (a flyer in English): each is
    stored in English, welcomed once, and gets the English menu — linked after their
    transaction on the reply threads, across worker processes."""
    from bot.line.richmenu import menu_image, menu_name

    state = linesim_server.sim.state
    users = []
    for i in range(RESIDENTS):
        user = state.create_user(f"friend{i}", language="en-US")
        state.set_following(user, True)
        users.append(user.user_id)
    statuses = _post_together(
        server.url,
        [
            body_of(event("follow", u, replyToken=state.issue_reply_token(state.users[u])))
            for u in users
        ],
    )
    assert statuses == [200] * len(users), server.log_tail()
    english = menu_name(menu_image("en"), "en")
    [english_id] = [i for i, menu in state.rich_menus.items() if menu.get("name") == english]
    deadline = time.monotonic() + 20
    while any(state.users[u].rich_menu_id != english_id for u in users):
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.05)
    stored = select(Resident.language).where(Resident.line_user_id.in_(users))
    with engine.connect() as conn:
        assert sorted(conn.execute(stored).scalars()) == ["en"] * len(users)
    welcome = say("welcome", "en", city="Murayama City")
    for user in users:  # one welcome each, in English
        answers = [m for m in state.users[user].timeline if m.get("from") == "bot"]
        assert len({m["request_id"] for m in answers}) == 1
        assert welcome in texts([m["message"] for m in answers])
