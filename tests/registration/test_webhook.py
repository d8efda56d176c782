"""POST /callback: signatures, bad bodies, once-only events, follow and unfollow."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.store.models import Resident, ResidentActivity, WebhookEvent
from tests.helpers import fixture_examples
from tests.webhooks import body_of, event, new_user_id, post, sign


def _residents(wiring) -> list[Resident]:
    with wiring.session_factory() as s:
        return list(s.scalars(select(Resident)))


def test_missing_signature_is_400_with_reason(client):
    """A request without X-Line-Signature is refused with a short reason."""
    response = post(client, body_of(), signature=None)
    assert response.status_code == 400
    assert b"missing X-Line-Signature" in response.data


def test_wrong_signature_is_400(client):
    """A body signed with another secret is refused."""
    body = body_of(event("follow", new_user_id()))
    response = post(client, body, signature=sign(body, "another-secret"))
    assert response.status_code == 400
    assert b"invalid signature" in response.data


def test_signed_body_that_is_not_json_is_400(client):
    """A correctly signed body that is not JSON is refused, not a 500."""
    response = post(client, "this is not json")
    assert response.status_code == 400
    assert b"not a LINE webhook" in response.data


def test_signed_json_that_is_not_a_webhook_is_400(client):
    """JSON without LINE's shape (no events list) is refused."""
    for body in ['{"hello": 1}', "[1, 2]", "42", '{"events": 5}']:
        response = post(client, body)
        assert response.status_code == 400, body
    # A body of LINE's shape with a malformed event: the event is skipped, not the body.
    assert post(client, '{"events": [{"x": 1}]}').status_code == 200


def test_empty_events_is_200(client):
    """LINE's connection check (no events) is answered 200."""
    assert post(client, body_of()).status_code == 200


def test_unknown_event_type_is_200_and_ignored(client, wiring):
    """An event type Todoku does not know is accepted and changes nothing."""
    unknown = event("somethingNew", new_user_id())
    assert post(client, body_of(unknown)).status_code == 200
    assert _residents(wiring) == []


def test_body_over_the_limit_is_413(client):
    """A body larger than the limit is refused before parsing."""
    big = body_of(event("follow", new_user_id(), padding="x" * (1024 * 1024)))
    assert post(client, big).status_code == 413


def test_the_answer_is_plain_text_labelled_as_such(client):
    """POST /callback is answered in front of Flask (webhook.FastPath): still plain text,
    with nosniff like every other answer; a GET is Flask's 405 as before."""
    response = post(client, body_of())
    assert response.status_code == 200 and response.data == b"OK\n"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert int(response.headers["Content-Length"]) == 3
    assert client.get("/callback").status_code == 405


def test_a_failed_webhook_is_a_500_logged_by_class_without_the_row(
    client, wiring, capsys, monkeypatch
):
    """A handler's database error answers 500 (LINE delivers again) and is logged as JSON by
    class and constraint — not the refused row's LINE id, as Flask's handler did."""
    from linebot.v3.webhooks import FollowEvent

    from bot.logs import configure_logging
    from bot.registration import handlers

    user = new_user_id()

    def twins(ctx, event):
        for _ in range(2):
            ctx.session.add(Resident(line_user_id=user, following=True))
            ctx.session.flush()

    monkeypatch.setitem(handlers.HANDLERS, FollowEvent, twins)
    capsys.readouterr()
    configure_logging("INFO")
    response = post(client, body_of(event("follow", new_user_id())))
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    logged = capsys.readouterr().err
    failed = [json.loads(line) for line in logged.splitlines() if "webhook_failed" in line]
    assert failed and failed[0]["error"].startswith("IntegrityError")
    assert user not in logged


def test_follow_creates_a_following_resident(client, wiring):
    """Follow stores only the LINE user id, marked as following."""
    user = new_user_id()
    assert post(client, body_of(event("follow", user))).status_code == 200
    [resident] = _residents(wiring)
    assert resident.line_user_id == user
    assert resident.following is True
    assert resident.birth_date is None and resident.consented_at is None
    # Every other column as for any new resident: not paused, nothing answered, Japanese.
    assert resident.notices_paused is False and resident.children_answered is False
    assert resident.language == "ja" and resident.registered_at is None
    assert resident.followed_at is not None and resident.created_at is not None
    assert resident.guardian_id is None and resident.dialog is None


def test_redelivered_event_is_handled_once(client, wiring):
    """The same webhookEventId delivered twice counts one follow, not two."""
    user = new_user_id()
    first = event("follow", user, event_id="01HZZZZZZZZZZZZZZZZZZZZZZZ")
    again = dict(first, deliveryContext={"isRedelivery": True})
    assert post(client, body_of(first)).status_code == 200
    assert post(client, body_of(again)).status_code == 200
    with wiring.session_factory() as s:
        follows = s.scalar(select(func.count()).where(ResidentActivity.kind == "follow"))
        events = s.scalar(select(func.count()).select_from(WebhookEvent))
    assert follows == 1
    assert events == 1


def test_unfollow_marks_resident_not_following(client, wiring):
    """Blocking the account keeps the row but stops it from counting as a follower."""
    user = new_user_id()
    post(client, body_of(event("follow", user)))
    assert post(client, body_of(event("unfollow", user))).status_code == 200
    [resident] = _residents(wiring)
    assert resident.following is False
    assert resident.unfollowed_at is not None


def test_events_from_several_users_in_one_request(client, wiring):
    """One request may carry events from different residents; all are handled."""
    a, b = new_user_id(), new_user_id()
    post(client, body_of(event("follow", a), event("follow", b)))
    assert {r.line_user_id for r in _residents(wiring)} == {a, b}


def test_healthz_answers_when_database_is_up(client):
    """GET /healthz is 200 with a working database."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["follow", "unfollow", "message", "postback", "x"])},
    optional={
        "source": json_values,
        "webhookEventId": json_values,
        "mode": json_values,
        "timestamp": json_values,
        "replyToken": json_values,
        "deliveryContext": json_values,
        "message": json_values,
        "postback": json_values,
    },
)
hostile_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(event_like, max_size=3).map(lambda evs: json.dumps({"events": evs}).encode()),
)


@fixture_examples(60)
@given(body=hostile_bodies, signed=st.booleans())
def test_hostile_bodies_never_cause_a_500(client, body, signed):
    """Random bodies, signed or not, get 200 or 400 — never a server error."""
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Line-Signature"] = sign(body)
    response = client.post("/callback", data=body, headers=headers)
    assert response.status_code in (200, 400), response.data
    if not signed:
        assert response.status_code == 400
