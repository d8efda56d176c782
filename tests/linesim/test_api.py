"""The Messaging API endpoints, driven by line-bot-sdk's own clients."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
import requests
from linebot.v3.insight import ApiClient as InsightClient
from linebot.v3.insight import Configuration as InsightConfiguration
from linebot.v3.insight import Insight
from linebot.v3.messaging import (
    ApiException,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    TextMessage,
    URIAction,
)
from linebot.v3.messaging.exceptions import NotFoundException, UnauthorizedException

from linesim.state import JST
from tests.helpers import png
from tests.linesim.conftest import TOKEN


def hello(text: str = "こんにちは") -> list[TextMessage]:
    """One text message."""
    return [TextMessage(text=text)]


def test_push_delivers_and_answers_sent_messages_and_request_id(api, sim, friend):
    """A push reaches the resident and the answer carries sentMessages and x-line-request-id."""
    response = api.push_message_with_http_info(PushMessageRequest(to=friend, messages=hello()))
    assert response.status_code == 200
    assert response.data.sent_messages[0].id.isdigit()
    assert response.data.sent_messages[0].quote_token
    [delivered] = sim.messages(friend)
    assert delivered["message"] == {"type": "text", "text": "こんにちは"}
    assert delivered["via"] == "push"
    assert delivered["request_id"] == response.headers["x-line-request-id"]


def test_multicast_reaches_followers_but_not_blocked_residents(api, sim, friend):
    """Multicast answers 200 {} and delivers nothing to a resident who blocked the account."""
    blocked = sim.create_user("鈴木 一郎")
    sim.follow(blocked)
    sim.unfollow(blocked)
    response = api.multicast_with_http_info(
        MulticastRequest(to=[friend, blocked], messages=hello("お知らせ"))
    )
    assert response.status_code == 200
    assert [m["message"]["text"] for m in sim.messages(friend)] == ["お知らせ"]
    assert sim.messages(blocked) == []
    assert api.get_message_quota_consumption().total_usage == 1


def test_push_to_an_unknown_user_is_refused(api):
    """A user id linesim never created gets LINE's 400 "Failed to send messages"."""
    with pytest.raises(ApiException) as raised:
        api.push_message(PushMessageRequest(to="U" + "0" * 32, messages=hello()))
    assert raised.value.status == 400
    assert "Failed to send messages" in raised.value.body


def test_profile_of_a_friend_and_404_for_others(api, sim, friend):
    """get_profile returns a friend's profile and 404 once they block the account."""
    profile = api.get_profile(friend)
    assert (profile.display_name, profile.user_id) == ("山田 花子", friend)
    sim.unfollow(friend)
    with pytest.raises(NotFoundException):
        api.get_profile(friend)


def test_quota_and_consumption(api, sim, friend):
    """Quota is 'none' by default and 'limited' with the configured value; pushes are counted."""
    assert api.get_message_quota().type == "none"
    sim.faults(monthly_quota=1000)
    quota = api.get_message_quota()
    assert (quota.type, quota.value) == ("limited", 1000)
    api.push_message(PushMessageRequest(to=friend, messages=hello() * 3))
    assert api.get_message_quota_consumption().total_usage == 1  # recipients, not objects


def test_wrong_or_missing_token_is_401(running):
    """Any API call without the channel's bearer token answers 401 with LINE's message."""
    url = running.url + "/v2/bot/message/quota"
    missing = requests.get(url, timeout=5)
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "Authentication failed" in wrong.json()["message"]
    assert "Authorization header required" in missing.json()["message"]
    assert wrong.headers["x-line-request-id"]


def test_sdk_raises_unauthorized_for_a_wrong_token(running):
    """The SDK sees UnauthorizedException, as against LINE."""
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

    bad = MessagingApi(ApiClient(Configuration(host=running.url, access_token="wrong")))
    with pytest.raises(UnauthorizedException):
        bad.get_message_quota()


def test_same_retry_key_is_409_with_accepted_id_and_no_second_delivery(api, sim, friend):
    """A retried push with the same key answers 409 + x-line-accepted-request-id, delivers once."""
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=friend, messages=hello())
    first = api.push_message_with_http_info(request, x_line_retry_key=key)
    with pytest.raises(ApiException) as raised:
        api.push_message(request, x_line_retry_key=key)
    error = raised.value
    assert error.status == 409
    assert error.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert error.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert "The retry key is already accepted" in error.body
    assert "sentMessages" in error.body
    assert len(sim.messages(friend)) == 1


def test_multicast_retry_key_conflict_body_has_no_sent_messages(api, sim, friend):
    """Multicast's 409 body is just the message."""
    key = str(uuid.uuid4())
    request = MulticastRequest(to=[friend], messages=hello())
    api.multicast(request, x_line_retry_key=key)
    with pytest.raises(ApiException) as raised:
        api.multicast(request, x_line_retry_key=key)
    assert raised.value.status == 409
    assert json.loads(raised.value.body) == {"message": "The retry key is already accepted"}
    assert len(sim.messages(friend)) == 1


def test_retry_key_on_reply_is_400(running):
    """Only push/multicast/narrowcast/broadcast accept X-Line-Retry-Key."""
    response = requests.post(
        running.url + "/v2/bot/message/reply",
        json={"replyToken": "0" * 32, "messages": [{"type": "text", "text": "x"}]},
        headers={"Authorization": f"Bearer {TOKEN}", "X-Line-Retry-Key": str(uuid.uuid4())},
        timeout=5,
    )
    assert response.status_code == 400


def test_reply_token_from_nowhere_is_invalid(api):
    """An unknown reply token answers 400 "Invalid reply token"."""
    with pytest.raises(ApiException) as raised:
        api.reply_message(ReplyMessageRequest(reply_token="f" * 32, messages=hello()))
    assert raised.value.status == 400
    assert "Invalid reply token" in raised.value.body


def test_rich_menu_create_upload_and_set_default(api, blob):
    """Create a rich menu, upload its image via MessagingApiBlob and make it the default."""
    menu = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=True,
        name="main",
        chat_bar_text="メニュー",
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=0, y=0, width=1250, height=843),
                action=URIAction(label="市HP", uri="https://example.com"),
            )
        ],
    )
    menu_id = api.create_rich_menu(menu).rich_menu_id
    assert menu_id.startswith("richmenu-")
    blob.set_rich_menu_image(menu_id, png(2500, 843), _headers={"Content-Type": "image/png"})
    api.set_default_rich_menu(menu_id)
    assert api.get_default_rich_menu_id().rich_menu_id == menu_id
    assert api.get_rich_menu(menu_id).chat_bar_text == "メニュー"


def test_default_rich_menu_needs_an_image(api):
    """Setting a default before uploading its image is refused, as LINE does."""
    menu = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=False,
        name="m",
        chat_bar_text="menu",
        areas=[],
    )
    menu_id = api.create_rich_menu(menu).rich_menu_id
    with pytest.raises(ApiException) as raised:
        api.set_default_rich_menu(menu_id)
    assert raised.value.status == 400


def test_follower_ids_and_insight_counts(api, sim, clock, running):
    """followers/ids lists current friends; insight counts adds and blocks of a past day."""
    blocked = sim.create_user("ブロックする人")
    sim.follow(blocked)
    friend = sim.create_user("友だち")
    sim.follow(friend)
    sim.unfollow(blocked)
    assert api.get_followers().user_ids == [friend]
    day = datetime.fromtimestamp(clock(), JST).strftime("%Y%m%d")
    insight = Insight(InsightClient(InsightConfiguration(host=running.url, access_token=TOKEN)))
    assert insight.get_number_of_followers(var_date=day).status == "unready"
    clock.advance(24 * 3600)
    stats = insight.get_number_of_followers(var_date=day)
    assert (stats.status, stats.followers, stats.targeted_reaches, stats.blocks) == (
        "ready",
        2,
        1,
        1,
    )


def test_validate_endpoint_checks_without_sending(running):
    """validate/push answers 200 {} for good messages and 400 with details for bad ones."""
    url = running.url + "/v2/bot/message/validate/push"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ok = requests.post(
        url, json={"messages": [{"type": "text", "text": "x"}]}, headers=headers, timeout=5
    )
    bad = requests.post(
        url, json={"messages": [{"type": "text", "text": ""}]}, headers=headers, timeout=5
    )
    assert (ok.status_code, ok.json()) == (200, {})
    assert bad.status_code == 400
    assert bad.json()["details"][0]["property"] == "messages[0].text"


def test_concurrent_multicasts_deliver_each_message_exactly_once(running, api, sim):
    """40 multicasts at once (half of them retries of the same key) deliver each batch once."""
    from concurrent.futures import ThreadPoolExecutor

    users = [sim.create_user(f"住民{i}") for i in range(5)]
    for user in users:
        sim.follow(user)
    keys = [str(uuid.uuid4()) for _ in range(20)]

    def send(i: int) -> int:
        request = MulticastRequest(to=users, messages=hello(f"お知らせ{i % 20}"))
        try:
            return api.multicast_with_http_info(request, x_line_retry_key=keys[i % 20]).status_code
        except ApiException as exc:
            return exc.status

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(40)))
    assert sorted(statuses) == [200] * 20 + [409] * 20
    for user in users:
        texts = [m["message"]["text"] for m in sim.messages(user)]
        assert sorted(texts) == sorted(f"お知らせ{i}" for i in range(20))
    seqs = [m["seq"] for user in users for m in sim.messages(user)]
    assert len(set(seqs)) == len(seqs) == 100
    assert api.get_message_quota_consumption().total_usage == 100
