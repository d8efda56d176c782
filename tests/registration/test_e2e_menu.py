"""The rich menu's items, and coming back after blocking the account."""

from __future__ import annotations

import datetime as dt

from bot.clock import TOKYO
from tests.registration.chat import Chat, register_quickly, resident_row, texts


def card_names(messages: list[dict]) -> list[str]:
    """The program names on the carousel's cards, in order."""
    [carousel] = [m for m in messages if m["type"] == "flex"]
    return [b["body"]["contents"][0]["text"] for b in carousel["contents"]["contents"]]


def test_programs_open_now_that_fit_the_resident(sim, live_bot):
    """使える制度を見る: a carousel of the open programs this resident is eligible for."""
    chat = Chat(sim)
    register_quickly(chat)  # born 1958 (68 on 2026-11-22), 大倉, 2 people, no children
    reply = chat.menu("programs")
    names = card_names(reply)
    assert "シニア世代スマホスタート応援補助金" in names
    assert "克雪住宅整備補助金" in names  # 大倉 is one of its districts
    assert "子育て応援給付金" not in names  # no children
    assert "高齢者世帯雪下ろし支援事業" not in names  # opens on 1 December
    assert f"{len(names)}件" in texts(reply)
    assert "まで・あと" in texts(reply) and "0237-55-2111" in texts(reply)
    # Their chosen topic (高齢者) comes first, and says so.
    assert names[0] == "シニア世代スマホスタート応援補助金"
    assert "選んだ分野（高齢者）の制度が先です" in texts(reply)
    sim.assert_no_problems()


def test_later_still_sees_programs_for_everybody_and_is_invited(sim, live_bot):
    """あとで: 使える制度を見る shows the programs for everybody, and offers to register."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("あとで")
    assert chat.labels() == ["使える制度を見る", "登録する", "Language / 言語"]
    reply = chat.tap("使える制度を見る")
    names = card_names(reply)
    assert names and "住宅リフォーム補助金" in names  # no eligibility rule: for everybody
    assert "シニア世代スマホスタート応援補助金" not in names  # needs an age
    assert "どなたでも使える" in texts(reply)
    assert chat.labels() == ["同意して登録する", "あとで", "Language / 言語"]
    assert "（1問目" in texts(chat.tap("同意して登録する"))
    sim.assert_no_problems()


def test_no_programs_is_a_kind_message_with_a_hint_for_skipped_answers(sim, live_bot):
    """Nothing fits: a kind message, and a hint that answering more may help."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    while "答えない" in chat.labels():
        chat.tap("答えない")
    live_bot.wiring.clock.set(dt.datetime(2027, 3, 25, 10, 0, tzinfo=TOKYO))
    reply = texts(chat.menu("programs"))
    assert "ありません" in reply and "答えていない質問があります" in reply
    sim.assert_no_problems()


def test_programs_during_registration_then_the_open_question(sim, live_bot):
    """Opening the menu mid-registration answers, then asks the open question again."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    chat.tap("カレンダーで選ぶ", date="1958-07-03")
    reply = chat.menu("programs")
    assert reply[-1]["type"] == "text" and "地区" in reply[-1]["text"]
    assert "楯岡" in chat.labels()
    sim.assert_no_problems()


def test_pause_and_resume_notices(sim, live_bot):
    """配信の停止・再開 toggles notices, saying clearly which it is now."""
    chat = Chat(sim)
    register_quickly(chat)
    assert "止めました" in texts(chat.menu("pause"))
    assert resident_row(live_bot, chat.user_id).notices_paused is True
    assert "止めています" in texts(chat.menu("review"))
    assert "再開しました" in texts(chat.menu("pause"))
    assert resident_row(live_bot, chat.user_id).notices_paused is False
    sim.assert_no_problems()


def test_menu_before_consent_offers_registration(sim, live_bot):
    """Someone who has not consented gets the privacy note and consent buttons."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("あとで")
    chat.menu("programs")
    assert chat.labels() == ["同意して登録する", "あとで", "Language / 言語"]
    sim.assert_no_problems()


def test_following_again_within_the_retention_time_restores_the_answers(sim, live_bot):
    """Block, then add again 10 days later: welcomed back, nothing asked again."""
    chat = Chat(sim)
    register_quickly(chat)
    sim.unfollow(chat.user_id)
    assert resident_row(live_bot, chat.user_id).following is False
    live_bot.wiring.clock.set(live_bot.wiring.clock.now() + dt.timedelta(days=10))
    reply = chat.follow()
    assert "おかえりなさい" in texts(reply) and "quickReply" not in reply[-1]
    row = resident_row(live_bot, chat.user_id)
    assert row.following is True and row.district == "大倉" and row.registered_at is not None
    sim.assert_no_problems()
