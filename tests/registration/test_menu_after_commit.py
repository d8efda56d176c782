"""A resident's rich menu is linked after their transaction has committed, off the request
(HandlerContext.after_commit), on both databases: a new friend whose LINE app is in English,
or a language chosen from the menu.

The link is a call to LINE (tens of ms, seconds when LINE is slow). Made inside the
transaction, it held SQLite's one writer (every webhook of every process waited) and the
resident's lock; now the events are committed first and the link follows.
"""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select

from bot.line.richmenu import ensure_rich_menu, menu_id_for
from bot.store.models import Resident
from messages import LANGUAGE_ACTION, encode
from tests.helpers import in_thread
from tests.registration.test_group_commit import _follow, _postback, _rows, _wait_for
from tests.webhooks import body_of, sign


def _post(url: str, body: str) -> int:
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body)}
    return requests.post(
        url + "/callback", data=body.encode(), headers=headers, timeout=30
    ).status_code


def _new_friend(linesim_server, app_language: str) -> str:
    state = linesim_server.sim.state
    user = state.create_user("住民", language=app_language)
    state.set_following(user, True)
    return user.user_id


def _hold_links(wiring, monkeypatch, menu_id: str):
    """LINE's link of `menu_id` waits until the returned event is set (the first time)."""
    release, reached = threading.Event(), threading.Event()
    link = wiring.line.link_rich_menu

    def held(user_id, rich_menu_id, timeout=None):
        if rich_menu_id == menu_id and not reached.is_set():
            reached.set()
            assert release.wait(20), "the test never let the link go"
        return link(user_id, rich_menu_id, timeout=timeout)

    monkeypatch.setattr(wiring.line, "link_rich_menu", held)
    return release, reached


def test_a_new_friend_is_committed_and_others_answered_while_their_menu_is_linked(
    live_bot, linesim_server, engine, monkeypatch
):
    """LINE takes its time linking an English-speaking new friend's menu: their row is
    already committed, and another resident's follow is answered meanwhile."""
    wiring = live_bot.wiring
    assert ensure_rich_menu(wiring) is not None
    english = menu_id_for(wiring, "en")
    release, reached = _hold_links(wiring, monkeypatch, english)
    newcomer, other = _new_friend(linesim_server, "en-US"), _new_friend(linesim_server, "ja")
    follow, status = in_thread(
        lambda: _post(live_bot.url, body_of(_follow(linesim_server, newcomer)))
    )
    try:
        assert reached.wait(20), "the menu was never linked"
        language = select(Resident.language).where(Resident.line_user_id == newcomer)
        assert _rows(engine, language) == [("en",)]  # committed before the link
        assert _post(live_bot.url, body_of(_follow(linesim_server, other))) == 200
        assert _rows(engine, select(Resident.id).where(Resident.line_user_id == other))
    finally:
        release.set()
        follow.join(30)
    assert status == [200]
    _wait_for(lambda: linesim_server.sim.state.users[newcomer].rich_menu_id == english)


def test_two_quick_choices_leave_the_menu_of_the_last(live_bot, linesim_server, monkeypatch):
    """English, then Vietnamese at once: English's link is the slower one and finishes
    last; the Vietnamese menu is the one left, as the stored language says."""
    wiring = live_bot.wiring
    assert ensure_rich_menu(wiring) is not None
    user = _new_friend(linesim_server, "ja")
    assert _post(live_bot.url, body_of(_follow(linesim_server, user))) == 200
    release, reached = _hold_links(wiring, monkeypatch, menu_id_for(wiring, "en"))

    def choose(lang: str) -> int:
        data = encode(LANGUAGE_ACTION, v=lang)
        return _post(live_bot.url, body_of(_postback(linesim_server, user, data)))

    english, status = in_thread(lambda: choose("en"))
    try:
        assert reached.wait(20), "English's menu was never linked"
        assert choose("vi") == 200
        vietnamese = menu_id_for(wiring, "vi")
        _wait_for(lambda: linesim_server.sim.state.users[user].rich_menu_id == vietnamese)
    finally:
        release.set()
        english.join(30)
    assert status == [200]
    _wait_for(lambda: linesim_server.sim.state.users[user].rich_menu_id == vietnamese)
    assert linesim_server.sim.state.users[user].rich_menu_id == vietnamese


@pytest.fixture(autouse=True)
def _patient_profile(monkeypatch):
    """linesim on a loaded test machine may answer the profile slower than production's
    timeout: these tests check when the menu is linked, not LINE's speed."""
    from bot.line import gateway

    monkeypatch.setattr(gateway, "PROFILE_TIMEOUT", 5.0)
