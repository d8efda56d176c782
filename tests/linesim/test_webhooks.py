"""Residents' events reach the bot signed and shaped exactly as LINE sends them."""

from __future__ import annotations

import json
import re

import pytest
from linebot.v3.messaging import ApiException, ReplyMessageRequest, TextMessage
from linebot.v3.webhooks import (
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    UnfollowEvent,
)

from linesim.webhooks import new_ulid, sign

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_follow_is_signed_parsed_by_the_sdk_and_answered(sim, bot):
    """A follow arrives as a FollowEvent the SDK verified; the bot's reply reaches the resident."""
    user = sim.create_user("山田 花子")
    result = sim.follow(user)
    assert result["webhook"]["status"] == 200
    [event] = bot.events
    assert isinstance(event, FollowEvent)
    assert event.follow.is_unblocked is False
    assert event.source.user_id == user
    [welcome] = sim.messages(user)
    assert welcome["via"] == "reply"
    assert welcome["message"]["quickReply"]["items"][1]["action"]["type"] == "datetimepicker"
    sim.assert_no_problems()


def test_payload_has_every_field_line_sends(sim, bot):
    """destination, mode, timestamp, ULID webhookEventId, deliveryContext, 32-hex replyToken."""
    user = sim.create_user("形式")
    sim.follow(user)
    sim.text(user, "こんにちは")
    payload = json.loads(bot.bodies[-1])
    assert re.fullmatch(r"U[0-9a-f]{32}", payload["destination"])
    [event] = payload["events"]
    assert event["mode"] == "active"
    assert ULID.match(event["webhookEventId"])
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert re.fullmatch(r"[0-9a-f]{32}", event["replyToken"])
    assert event["source"] == {"type": "user", "userId": user}
    assert isinstance(event["timestamp"], int)
    assert set(event["message"]) == {"id", "type", "quoteToken", "text"}


def test_text_sticker_postback_and_unfollow_events(sim, bot):
    """Each resident action becomes the matching SDK event, date picker params included."""
    user = sim.create_user("操作")
    sim.follow(user)
    sim.text(user, "相談したい")
    sim.sticker(user)
    sim.postback(user, "birth", {"date": "1990-05-01"})
    sim.unfollow(user)
    _follow, text, sticker, postback, unfollow = bot.events
    assert isinstance(text, MessageEvent) and text.message.text == "相談したい"
    assert isinstance(sticker.message, StickerMessageContent)
    assert sticker.message.sticker_resource_type == "STATIC"
    assert isinstance(postback, PostbackEvent)
    assert postback.postback.params == {"date": "1990-05-01"}
    assert isinstance(unfollow, UnfollowEvent)
    assert "replyToken" not in json.loads(bot.bodies[-1])["events"][0]
    texts = [m["message"].get("text") for m in sim.messages(user)]
    assert texts[1:] == ["受信: 相談したい", "生年月日: 1990-05-01"]


def test_unblock_is_a_follow_with_is_unblocked(sim, bot):
    """Following again after a block sends follow.isUnblocked true."""
    user = sim.create_user("再追加")
    sim.follow(user)
    sim.unfollow(user)
    sim.follow(user)
    assert bot.events[-1].follow.is_unblocked is True


def test_non_200_is_redelivered_with_the_same_id_and_token(sim, bot):
    """The bot answers 500 once: the event comes again, isRedelivery true, same ids; reply works."""
    user = sim.create_user("再送")
    bot.fail_next = 1
    result = sim.follow(user)
    assert [a["status"] for a in result["webhook"]["attempts"]] == [500, 200]
    first, second = (json.loads(b)["events"][0] for b in bot.bodies)
    assert first["deliveryContext"]["isRedelivery"] is False
    assert second["deliveryContext"]["isRedelivery"] is True
    assert first["webhookEventId"] == second["webhookEventId"]
    assert first["replyToken"] == second["replyToken"]
    assert first["timestamp"] == second["timestamp"]
    assert len(sim.messages(user)) == 1


def test_redelivery_stops_after_the_configured_attempts(sim, bot):
    """A bot that keeps failing gets the first try plus redelivery_attempts (2) more."""
    user = sim.create_user("失敗")
    bot.fail_next = 10
    result = sim.follow(user)
    assert result["webhook"]["status"] == 500
    assert len(bot.bodies) == 3


def test_redeliver_last_sends_a_duplicate_for_dedupe_tests(sim, bot):
    """redeliver-last posts the identical event again (same webhookEventId)."""
    user = sim.create_user("重複")
    sim.text(user, "一回目")
    sim.redeliver_last(user)
    assert bot.bodies[0] == bot.bodies[1]


def test_reply_token_is_single_use(sim, bot, api):
    """A second reply with the same token answers 400 Invalid reply token."""
    user = sim.create_user("一回限り")
    bot.reply = False
    event = sim.text(user, "hi")["event"]
    request = ReplyMessageRequest(reply_token=event["replyToken"], messages=[TextMessage(text="1")])
    api.reply_message(request)
    with pytest.raises(ApiException) as raised:
        api.reply_message(request)
    assert "Invalid reply token" in raised.value.body


def test_reply_token_expires_after_a_minute(sim, bot, api, clock):
    """With the injected clock moved past 60 s the token is refused."""
    user = sim.create_user("期限切れ")
    bot.reply = False
    event = sim.text(user, "hi")["event"]
    clock.advance(61)
    with pytest.raises(ApiException) as raised:
        api.reply_message(
            ReplyMessageRequest(
                reply_token=event["replyToken"], messages=[TextMessage(text="遅い")]
            )
        )
    assert raised.value.status == 400
    assert sim.messages(user) == []


def test_without_a_webhook_url_actions_still_update_state(sim):
    """With no bot configured, follow works and reports webhook null."""
    user = sim.create_user("単独")
    assert sim.follow(user)["webhook"] is None
    assert sim.users()[0]["following"] is True


def test_signature_and_ulid_helpers():
    """sign() is base64 HMAC-SHA256; ULIDs sort by time."""
    assert sign("secret", "{}") == "dzJZAsrKgS3CWXM6rNBGtzgXNyx3e42VtAJkdHRRbhM="
    assert new_ulid(1) < new_ulid(2**40)
    assert ULID.match(new_ulid(1_700_000_000_000))


def test_a_bot_that_times_out_gets_the_event_again(bot):
    """No answer within webhook_timeout counts as a failure and is redelivered."""
    from linesim.client import SimClient
    from linesim.server import start_in_thread
    from tests.linesim.conftest import SECRET, TOKEN

    slow = start_in_thread(
        SECRET, TOKEN, bot.webhook_url, webhook_timeout=0.3, redelivery_attempts=1
    )
    try:
        client = SimClient(slow.url)
        bot.reply = False
        bot.delay_next = 0.6
        user = client.create_user("遅いボット")
        result = client.follow(user)
        assert [a["error"] for a in result["webhook"]["attempts"]] == ["request_timeout", None]
        assert result["webhook"]["status"] == 200
    finally:
        slow.stop()


def test_an_answer_slower_than_line_allows_is_flagged_late(bot):
    """With a longer test timeout the slow answer is not redelivered, but it is marked late."""
    from linesim.client import SimClient
    from linesim.server import start_in_thread
    from tests.linesim.conftest import SECRET, TOKEN

    patient = start_in_thread(SECRET, TOKEN, bot.webhook_url, webhook_timeout=10)
    try:
        client = SimClient(patient.url)
        bot.reply = False  # the fake bot's API client points at the other linesim
        bot.delay_next = 2.2
        user = client.create_user("コールドスタート")
        [attempt] = client.follow(user)["webhook"]["attempts"]
        assert (attempt["status"], attempt["late"]) == (200, True)
        assert len(bot.bodies) == 1
        [attempt] = client.text(user, "2回目は速い")["webhook"]["attempts"]
        assert attempt["late"] is False
    finally:
        patient.stop()


def test_todoku_linesim_command_serves_and_posts_to_the_given_webhook(bot, tmp_path):
    """`todoku linesim --port P --webhook URL` serves the API and signs events for that URL."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from linesim.client import SimClient, SimError
    from tests.linesim.conftest import SECRET, TOKEN

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    todoku = Path(sys.executable).with_name("todoku")
    env = {**os.environ, "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN}
    process = subprocess.Popen(
        [str(todoku), "linesim", "--port", str(port), "--webhook", bot.webhook_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = SimClient(f"http://127.0.0.1:{port}", timeout=5)
        deadline = time.monotonic() + 60  # a loaded CI machine starts Python slowly
        while True:
            try:
                client.users()
                break
            except (SimError, OSError):
                assert time.monotonic() < deadline, "todoku linesim did not start in 60 s"
                time.sleep(0.1)
        bot.reply = False  # the fake bot's API client points at the fixture's linesim
        user = client.create_user("コマンド")
        assert client.follow(user)["webhook"]["status"] == 200  # signature verified by the SDK
        assert isinstance(bot.events[-1], FollowEvent)
        assert bot.events[-1].source.user_id == user
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"http://127.0.0.1:{port}/" in output
