"""A new friend's follow waits for nothing: their LINE app's language is asked by the reply
thread that welcomes them, stored before the welcome leaves, and wins over nothing a
resident chose (language.welcome_later / welcome_now), on both databases.

Asked in the request, the profile held a web thread for LINE's tens of ms on a third of a
campaign day's events (docs/benchmarks.md: 410 → 584 events/s with it answered at once).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select, update
from werkzeug.serving import make_server

from bot.line import gateway
from bot.line.richmenu import ensure_rich_menu, menu_id_for
from bot.registration import language
from bot.store import queries
from bot.store.models import LANGUAGE_ASKING, Resident
from messages import say
from tests.conftest import settings_on_linesim
from tests.registration.chat import Chat, front_held, resident_row, stored_language, texts

CITY = {"en": "Murayama City", "vi": "Thành phố Murayama"}


@pytest.fixture(autouse=True)
def patient_profile(monkeypatch):
    """LINE is made slow on purpose here: the profile's answer is still awaited."""
    monkeypatch.setattr(gateway, "PROFILE_TIMEOUT", 5.0)


@pytest.fixture
def answering_bot(engine, clock, linesim_server):
    """The bot as in production: the webhook answers LINE without waiting for replies."""
    from bot.app import create_app
    from bot.wiring import wire

    settings = settings_on_linesim(engine, linesim_server, reply_wait_seconds=0.0)
    wiring = wire(settings, clock=clock, engine=engine)
    server = make_server("127.0.0.1", 0, create_app(wiring=wiring), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    linesim_server.sim.sender.url = f"http://127.0.0.1:{server.server_port}/callback"
    yield wiring
    server.shutdown()
    server.server_close()


def _asking(wiring, users: list[str], *, following: bool = True, chose: str | None = None):
    """New friends stored as a follow stores them (their language being asked); `chose`
    then has Vietnamese stored (chosen meanwhile, or stored by an earlier attempt)."""
    with wiring.session_factory.begin() as session:
        for user in users:
            session.execute(
                queries.new_friend(),
                {
                    "line_user_id": user,
                    "following": following,
                    "followed_at": wiring.clock.now(),
                    "language": LANGUAGE_ASKING,
                },
            )
        if chose is not None:
            session.execute(
                update(Resident).where(Resident.line_user_id == chose).values(language="vi")
            )


def _wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_a_new_friends_follow_is_answered_before_line_says_their_language(
    answering_bot, linesim_server, engine
):
    """LINE answers every call after 0.8 s. The follow's webhook is answered long before
    (the old code asked the profile first: ≥ 0.8 s); the resident is committed at once, their
    language still being asked; then the welcome arrives in English, with the English
    menu, and by then English is stored."""
    sim = linesim_server.sim
    assert ensure_rich_menu(answering_bot) is not None
    user = sim.state.create_user("Anna", language="en-US").user_id
    sim.faults.configure({"latency_ms": 800})
    result = sim.follow(user)
    [attempt] = result["webhook"]["attempts"]
    assert attempt["status"] == 200 and attempt["ms"] < 600
    assert stored_language(engine, user) == LANGUAGE_ASKING  # committed; the language comes next
    welcome = _wait_for(
        lambda: [m["message"] for m in sim.state.users[user].timeline if m.get("from") == "bot"]
    )
    assert stored_language(engine, user) == "en"  # stored before the welcome left
    assert say("welcome", "en", city=CITY["en"]) in texts(welcome)
    assert say("label_consent", "en") in json.dumps(welcome, ensure_ascii=False)
    _wait_for(lambda: sim.state.users[user].rich_menu_id == menu_id_for(answering_bot, "en"))
    sim.faults.configure({})


def test_a_language_stored_before_the_welcome_is_built_is_the_one_used(
    live_bot, linesim_server, engine
):
    """Two new friends whose LINE apps are in English, each stored with the language being
    asked. One has a language stored meanwhile (Vietnamese: chosen, or stored by an earlier
    attempt of the same reply): their welcome is Vietnamese and Vietnamese stays. The
    other's is English, and English is stored."""
    wiring = live_bot.wiring
    state = linesim_server.sim.state
    chose, asked = (state.create_user(n, language="en-US") for n in ("A", "B"))
    for user in (chose, asked):
        state.set_following(user, True)  # LINE shows a profile to the account's friends
    chose, asked = chose.user_id, asked.user_id
    _asking(wiring, [chose, asked], chose=chose)
    welcome, lang = language.welcome_now(wiring, chose)
    assert lang == "vi" and stored_language(engine, chose) == "vi"
    assert say("welcome", "vi", city=CITY["vi"]) in texts(json.loads(welcome))
    welcome, lang = language.welcome_now(wiring, asked)
    assert lang == "en" and stored_language(engine, asked) == "en"
    assert say("welcome", "en", city=CITY["en"]) in texts(json.loads(welcome))


def test_a_follow_while_the_language_is_still_being_asked_is_welcomed_in_it(sim, live_bot, engine):
    """A resident whose first welcome is still being built (their row's language being
    asked; here a process died before its reply thread ran) follows again: welcomed in their
    LINE app's language, which is stored — never a Japanese welcome for the empty language."""
    chat = Chat(sim, language="vi-VN")
    wiring = live_bot.wiring
    _asking(wiring, [chat.user_id], following=False)
    welcome = chat.follow()
    assert say("welcome", "vi", city=CITY["vi"]) in texts(welcome)
    assert resident_row(live_bot, chat.user_id).language == "vi"


def test_new_friends_languages_are_stored_in_the_next_batch_not_one_transaction_each(
    live_bot, engine
):
    """Six reply threads store their new friends' languages while the process's writer is
    busy (its front held): all six go in the one transaction of the next batch — no commit
    per new friend, no second wait for SQLite's writer — and each learns what was stored
    (one had chosen Vietnamese meanwhile)."""
    from sqlalchemy import event

    from bot.registration.events import writer_for

    wiring = live_bot.wiring
    writer = writer_for(live_bot.app)
    users = [f"U{i:032x}" for i in range(6)]
    _asking(wiring, users, chose=users[0])
    commits = []

    def count(conn) -> None:
        commits.append(conn)

    event.listen(engine, "commit", count)
    results: dict[str, str | None] = {}
    try:
        threads = [
            threading.Thread(target=lambda u=u: results.update({u: writer.learn(u, "en")}))
            for u in users
        ]
        with front_held(writer):  # a batch being written
            for thread in threads:
                thread.start()
            _wait_for(lambda: len(writer._learning) == len(users))
        for thread in threads:
            thread.join(timeout=20)
    finally:
        event.remove(engine, "commit", count)
    assert results == {users[0]: "vi"} | {u: "en" for u in users[1:]}
    assert [stored_language(engine, u) for u in users] == ["vi"] + ["en"] * 5
    assert len(commits) == 1


def test_a_standby_follow_is_not_answered_but_its_language_and_menu_are_learned(
    live_bot, linesim_server, engine
):
    """A follow in standby mode (another module of the channel answers) is not Todoku's to
    answer: no welcome, no reply row. The new friend's language is still asked and stored
    after the commit, so their notices come in it — not the empty "being asked" for good —
    and the menu of that language is linked, as a welcome would have linked it."""
    import requests

    from bot.store.models import ReplyOutbox
    from tests.webhooks import body_of, event, sign

    assert ensure_rich_menu(live_bot.wiring) is not None
    state = linesim_server.sim.state
    user = state.create_user("Anna", language="en-US")
    state.set_following(user, True)
    body = body_of(event("follow", user.user_id, mode="standby"))
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}
    answer = requests.post(
        live_bot.url + "/callback", data=body.encode(), headers=headers, timeout=30
    )
    assert answer.status_code == 200
    _wait_for(lambda: stored_language(engine, user.user_id) == "en")
    english_menu = menu_id_for(live_bot.wiring, "en")
    _wait_for(lambda: state.users[user.user_id].rich_menu_id == english_menu)
    with engine.connect() as conn:
        assert conn.execute(select(ReplyOutbox.webhook_event_id)).all() == []
    asked = [r["path"] for r in linesim_server.sim.state.requests]
    assert f"/v2/bot/profile/{user.user_id}" in asked
    assert "/v2/bot/message/reply" not in asked
