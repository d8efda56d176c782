"""Every bad input gets a kind re-prompt: never an error, never silence."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server

from tests.conftest import make_settings
from tests.registration.chat import Chat, register_quickly, resident_row, texts


def start_registration(sim) -> Chat:
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    return chat


def test_free_text_and_stickers_re_ask_the_question(sim, live_bot):
    """A sticker where a choice is expected: a kind note and the same question; text that is
    not an answer: the city's phone and counter, then the question; a button's label typed:
    taken as the tap."""
    chat = start_registration(sim)
    chat.tap("カレンダーで選ぶ", date="1980-01-01")
    [message] = chat.sticker()
    assert "ボタンから選んでください" in message["text"]
    assert "地区" in message["text"] and "楯岡" in chat.labels()
    contact, question = chat.say("よくわかりません")
    assert "申し訳ありません" in contact["text"] and "0237-55-2111" in contact["text"]
    assert "地区" in question["text"] and "楯岡" in chat.labels()
    contact, question = chat.say("電話で聞きたい")
    assert "申し訳ありません" not in contact["text"] and "総合案内" in contact["text"]
    assert "電話する 0237-55-2111" in [i["action"]["label"] for i in contact["quickReply"]["items"]]
    assert resident_row(live_bot, chat.user_id).district is None
    assert "楯岡で登録" not in texts(chat.say("楯岡です"))  # typed like the button: taken
    assert resident_row(live_bot, chat.user_id).district == "楯岡"
    sim.assert_no_problems()


def test_implausible_birth_dates_are_asked_again(sim, live_bot):
    """A birth date in the future or more than 120 years ago is not stored."""
    chat = start_registration(sim)
    assert "まだ来ていません" in texts(chat.tap("カレンダーで選ぶ", date="2026-12-01"))
    assert "120年より前" in texts(chat.tap("カレンダーで選ぶ", date="1900-01-01"))
    assert resident_row(live_bot, chat.user_id).birth_date is None
    chat.tap("カレンダーで選ぶ", date="1985-03-03")
    assert "地区" in chat.last()["text"]
    sim.assert_no_problems()


def test_child_born_before_the_parent_was_twelve_is_asked_again(sim, live_bot):
    """A child's birth date too close to the parent's own is refused kindly."""
    chat = start_registration(sim)
    chat.tap("カレンダーで選ぶ", date="1990-06-15")
    chat.tap("楯岡")  # 36: no rule reads the household size of someone this age
    reply = chat.tap("カレンダーで選ぶ", date="2000-01-01")
    assert "近すぎる" in texts(reply)
    assert resident_row(live_bot, chat.user_id).dialog.get("kids", []) == []
    sim.assert_no_problems()


def test_a_tap_on_an_old_message_re_asks_the_open_question(sim, live_bot):
    """Buttons of an earlier question carry an old step token: the open question is re-asked."""
    chat = start_registration(sim)
    birth_question = chat.last()
    chat.tap("カレンダーで選ぶ", date="1970-02-02")
    reply = chat.tap("答えない", message=birth_question)
    assert "前の質問のボタン" in texts(reply) and "地区" in texts(reply)
    row = resident_row(live_bot, chat.user_id)
    assert str(row.birth_date) == "1970-02-02" and row.dialog["step"] == "district"
    sim.assert_no_problems()


def test_a_postback_after_deletion_offers_to_start_again(sim, live_bot):
    """After deleting, any button offers a fresh start; consenting registers anew."""
    chat = Chat(sim)
    register_quickly(chat)
    review = chat.menu("review")
    chat.menu("delete")
    chat.tap("削除する")
    reply = chat.tap("変更", message=next(m for m in review if m["type"] == "flex"))
    assert "まだ登録されていません" in texts(reply)
    assert chat.labels() == ["同意して登録する", "あとで", "Language / 言語"]
    assert "（1問目" in texts(chat.tap("同意して登録する"))
    assert resident_row(live_bot, chat.user_id).consented_at is not None
    sim.assert_no_problems()


def test_a_redelivered_answer_is_taken_once(sim, live_bot):
    """LINE delivers the same tap twice: the answer is taken once, nothing is said twice."""
    chat = start_registration(sim)
    chat.tap("カレンダーで選ぶ", date="1950-05-05")
    chat.tap("楯岡")
    before = len(sim.messages(chat.user_id))
    sim.redeliver_last(chat.user_id)
    assert len(sim.messages(chat.user_id)) == before
    row = resident_row(live_bot, chat.user_id)
    assert row.district == "楯岡" and row.dialog["step"] == "household_size"
    sim.assert_no_problems()


def test_the_dialog_survives_a_restart_of_the_web_process(
    sim, live_bot, linesim_server, engine, clock
):
    """A second app instance (a restarted or other worker) continues the same conversation."""
    from bot.app import create_app
    from bot.wiring import wire

    chat = start_registration(sim)
    chat.tap("カレンダーで選ぶ", date="1980-08-08")
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        line_api_base=linesim_server.url,
        line_api_data_base=linesim_server.url,
    )
    fresh = create_app(wiring=wire(settings, clock=clock, engine=engine))
    server = make_server("127.0.0.1", 0, fresh, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sim.set_webhook(f"http://127.0.0.1:{server.server_port}/callback")
        chat.tap("西郷")
        assert "（3問目" in chat.last()["text"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert resident_row(live_bot, chat.user_id).district == "西郷"
    sim.assert_no_problems()


def test_text_outside_a_question_points_at_the_menu(sim, live_bot):
    """A registered resident who types gets the city's phone, counter and the menu."""
    chat = Chat(sim)
    register_quickly(chat)
    shown = texts(chat.say("こんにちは"))
    assert "申し訳ありません" in shown and "0237-55-2111" in shown and "総合案内" in shown
    assert "使える制度を見る" in chat.labels() and "電話する 0237-55-2111" in chat.labels()
    sim.assert_no_problems()


def test_text_before_consent_shows_the_privacy_note_again(sim, live_bot):
    """Someone who tapped あとで and then types is offered registration again."""
    chat = Chat(sim)
    chat.follow()
    assert "使える制度を見る" in texts(chat.tap("あとで"))
    chat.say("登録したい")
    assert chat.labels() == ["同意して登録する", "あとで", "Language / 言語"]
    assert resident_row(live_bot, chat.user_id).consented_at is None
    sim.assert_no_problems()
