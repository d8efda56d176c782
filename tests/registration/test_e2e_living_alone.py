"""A resident who lives alone is not asked about children or ひとり親."""

from __future__ import annotations

from tests.registration.chat import Chat
from tests.registration.test_e2e_registration import resident_row


def test_living_alone_skips_the_children_questions(sim, live_bot):
    """After 「1人」 the next question is pregnancy, numbered out of 5 instead of 7."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    chat.tap("生まれた日を選ぶ", date="1948-05-03")
    chat.tap("楯岡")
    question = chat.tap("1人")[-1]["text"]
    assert "妊娠" in question and "（4/5）" in question
    chat.tap("いいえ")
    chat.tap("高齢者")
    chat.tap("完了")
    row = resident_row(live_bot, chat.user_id)
    assert row.registered_at is not None
    assert row.children_answered is True and row.children == []
    assert row.single_parent is None
    assert chat.taps <= 7
    sim.assert_no_problems()
