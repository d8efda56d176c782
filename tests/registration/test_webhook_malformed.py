"""Signed but malformed events: 200, the bad event skipped with a warning, the others handled.

Issue 9 item 8: no userId, ids longer than LINE's, NUL bytes, a missing mode or
webhookEventId used to give 500 (or 400 for the whole body).
"""

from __future__ import annotations

import copy
import io
import logging

import pytest
from sqlalchemy import select

from bot.logs import configure_logging
from bot.store.models import Resident, WebhookEvent
from tests.webhooks import body_of, event, new_user_id, post, postback_event, text_event


def _without(ev: dict, *path: str) -> dict:
    ev = copy.deepcopy(ev)
    node = ev
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return ev


def _with(ev: dict, value, *path: str) -> dict:
    ev = copy.deepcopy(ev)
    node = ev
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return ev


def _malformed_events() -> dict[str, dict]:
    user = new_user_id()
    follow = event("follow", user)
    return {
        "no userId": _without(follow, "source", "userId"),
        "userId too long": _with(follow, user + "0" * 40, "source", "userId"),
        "userId not LINE's": _with(follow, "U" + "z" * 32, "source", "userId"),
        "NUL in text": text_event(user, "こんにちは\x00"),
        "NUL in postback": postback_event(user, "a=menu&v=review\x00"),
        "NUL in userId": _with(follow, "U" + "0" * 31 + "\x00", "source", "userId"),
        "no mode": _without(follow, "mode"),
        "bad mode": _with(follow, "passive", "mode"),
        "no webhookEventId": _without(follow, "webhookEventId"),
        "webhookEventId too long": _with(follow, "0" * 65, "webhookEventId"),
        "reply token too long": _with(follow, "f" * 200, "replyToken"),
        "no deliveryContext": _without(follow, "deliveryContext"),
        "no follow detail": _without(follow, "follow"),
        "no timestamp": _without(follow, "timestamp"),
        "message without content": _without(text_event(user, "x"), "message"),
        "type not a string": _with(follow, 5, "type"),
        "not an object": ["follow"],
    }


@pytest.fixture
def logs():
    """The JSON log lines the code under test writes (as in production)."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    configure_logging("INFO")
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)
    yield buffer.getvalue
    root.handlers[:] = before
    root.setLevel(level)


@pytest.mark.parametrize("case", sorted(_malformed_events()))
def test_malformed_event_is_skipped_and_the_valid_one_handled(client, wiring, logs, case):
    """Each kind of malformed event beside a valid follow: 200, the follow is handled."""
    bad = _malformed_events()[case]
    good_user = new_user_id()
    good = event("follow", good_user)
    response = post(client, body_of(bad, good))
    assert response.status_code == 200, response.data
    with wiring.session_factory() as s:
        users = set(s.scalars(select(Resident.line_user_id)))
        claimed = set(s.scalars(select(WebhookEvent.webhook_event_id)))
    assert users == {good_user}
    assert claimed == {good["webhookEventId"]}
    text = logs()
    skipped = [
        line
        for line in text.splitlines()
        if line.startswith("{") and '"event": "webhook_event_skipped"' in line
    ]
    assert len(skipped) == 1, text
    assert '"level": "warning"' in skipped[0]
    kind = bad.get("type") if isinstance(bad, dict) else None
    expected = kind if isinstance(kind, str) else "invalid"
    assert f'"event_type": "{expected}"' in skipped[0]
    # The log names the type and a reason, never the resident or the event's content.
    assert good_user not in text
    assert "こんにちは" not in text


def test_unknown_event_type_is_logged_as_a_warning_with_its_type(client, logs):
    """An event type the SDK does not know is skipped with a warning naming it."""
    assert post(client, body_of(event("brandNewThing", new_user_id()))).status_code == 200
    text = logs()
    assert '"event_type": "brandNewThing"' in text
    assert "unknown type" in text


def test_malformed_event_alone_is_200(client):
    """A body whose only event is malformed is still answered 200 (LINE must not retry it)."""
    bad = _without(event("follow", new_user_id()), "webhookEventId")
    assert post(client, body_of(bad)).status_code == 200


def test_body_that_is_not_utf8_is_400(client):
    """A signed body that is not UTF-8 is refused with a reason, not a 500."""
    assert post(client, b'{"events": ["\xff\xfe"]}').status_code == 400
