"""A whole registration, an edit and a deletion through linesim's signed webhooks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.store.models import ResidentActivity
from tests.registration.chat import Chat, register_quickly, resident_row, texts


def activity(live_bot, kind: str) -> int:
    with live_bot.wiring.session_factory() as s:
        return s.scalar(select(func.count()).where(ResidentActivity.kind == kind)) or 0


def test_follow_welcomes_and_stores_only_the_user_id(sim, live_bot):
    """Follow: a welcome, the privacy note, consent buttons; no answers stored yet."""
    chat = Chat(sim)
    shown = chat.follow()
    assert "村山市" in texts(shown) and "消し方" in texts(shown)
    assert chat.labels() == ["同意して登録する", "あとで", "Language / 言語"]
    row = resident_row(live_bot, chat.user_id)
    assert row.consented_at is None and row.birth_date is None and row.dialog is None
    sim.assert_no_problems()


def test_resident_with_children_registers_by_taps_alone(sim, live_bot):
    """Every question answered by taps (a child's date by 元号 → 年 → 月 → day, no scrolling);
    every date is read back in 和暦 with 西暦; the answers land in the database."""
    chat = Chat(sim)
    chat.follow()
    assert "（1問目・のこり6問まで）" in texts(chat.tap("同意して登録する"))
    shown = texts(chat.tap("カレンダーで選ぶ", date="1990-06-15"))
    assert "平成2年6月15日（1990年）で登録しました" in shown
    assert "（2問目" in chat.last()["text"]
    chat.tap("楯岡")  # 36: no rule reads the household size at this age, so it is not asked
    chat.tap("令和生まれ")
    assert chat.labels()[0] == "令和元年（2019）"
    chat.tap("令和元年（2019）")
    assert chat.labels()[0] == "5月"  # 令和 began on 1 May 2019
    chat.tap("5月")
    day = next(
        i["action"]
        for i in chat.last()["quickReply"]["items"]
        if i["action"]["type"] == "datetimepicker"
    )
    assert (day["initial"], day["min"], day["max"]) == ("2019-05-01", "2019-05-01", "2019-05-31")
    shown = texts(chat.tap("日にちを選ぶ", date="2019-05-10"))
    assert "令和元年5月10日（2019年）生まれのお子さんを登録しました" in shown
    assert "お子さんは1人です" in shown
    shown = texts(chat.say("Ｒ４．１．２０"))  # typed, full-width
    assert "令和4年1月20日（2022年）生まれ" in shown and "2人" in shown
    chat.tap("これで全部")
    chat.tap("いいえ")  # pregnant
    chat.tap("はい")  # single parent
    chat.tap("子育て")
    chat.tap("防災")
    chat.tap("✓防災")  # changed their mind
    assert "登録ができました" in texts(chat.tap("完了"))
    row = resident_row(live_bot, chat.user_id)
    assert row.birth_date == dt.date(1990, 6, 15) and row.district == "楯岡"
    assert row.household_size is None and row.pregnant is False and row.single_parent is True
    assert [c.birth_date for c in row.children] == [dt.date(2019, 5, 10), dt.date(2022, 1, 20)]
    assert row.children_answered is True
    assert [i.topic for i in row.interests] == ["子育て"]
    assert row.consented_at is not None and row.registered_at is not None
    sim.assert_no_problems()


def test_resident_without_children_finishes_in_ten_taps_or_fewer(sim, live_bot):
    """Consent to 完了 for a resident with no children takes at most 10 taps."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    chat.tap("カレンダーで選ぶ", date="1958-07-03")
    chat.tap("大倉")
    chat.tap("2人")
    chat.tap("いない")  # 68 in a 2-person household: not asked about pregnancy (ask_if)
    chat.tap("高齢者")
    finished = chat.tap("完了")
    assert "登録ができました" in texts(finished)
    assert chat.taps <= 10
    row = resident_row(live_bot, chat.user_id)
    assert row.children == [] and row.children_answered is True and row.single_parent is None
    sim.assert_no_problems()


def test_skipping_everything_stores_nothing(sim, live_bot):
    """答えない on every question: registered, with every answer NULL (not given)."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    while "答えない" in chat.labels():
        chat.tap("答えない")
    assert "登録ができました" in chat.last()["text"]
    row = resident_row(live_bot, chat.user_id)
    assert (row.birth_date, row.district, row.household_size, row.pregnant, row.single_parent) == (
        None,
    ) * 5
    assert row.children_answered is False and row.interests == []
    assert row.registered_at is not None
    sim.assert_no_problems()


def test_review_then_edit_one_answer(sim, live_bot):
    """確認・変更 shows every answer; 変更 asks only that question and shows the review again."""
    chat = Chat(sim)
    register_quickly(chat)
    review = chat.menu("review")
    shown = texts(review)
    assert "昭和33年7月3日（1958年7月3日）" in shown and "大倉" in shown and "2人" in shown
    change = next(m for m in review if m["type"] == "flex")
    question = chat.tap("変更", message=_nth_change(change, "地区"))
    assert "地区" in texts(question) and "（" not in question[-1]["text"][:3]
    again = chat.tap("楯岡")
    assert "変更しました" in texts(again) and "楯岡" in texts(again)
    assert resident_row(live_bot, chat.user_id).district == "楯岡"
    sim.assert_no_problems()


def _nth_change(flex: dict, field: str) -> dict:
    """The review row for `field` (so that tapping 変更 hits that row's button)."""
    for row in flex["contents"]["body"]["contents"]:
        if row.get("type") == "box" and field in str(row):
            return row
    raise AssertionError(field)


def test_delete_asks_once_then_removes_everything(sim, live_bot):
    """登録情報の削除 → 削除する: every answer is gone, only the follower's LINE id remains."""
    chat = Chat(sim)
    register_quickly(chat)
    confirm = chat.menu("delete")
    assert "元には戻せません" in texts(confirm)
    assert "削除をやめました" in texts(chat.tap("やめる"))
    assert resident_row(live_bot, chat.user_id) is not None
    chat.menu("delete")
    assert "削除しました" in texts(chat.tap("削除する"))
    row = resident_row(live_bot, chat.user_id)
    # Still a friend of the account, so still a follower — but nothing else is kept.
    assert row.following is True
    assert (row.consented_at, row.registered_at, row.birth_date, row.district) == (None,) * 4
    assert (row.household_size, row.pregnant, row.single_parent, row.dialog) == (None,) * 4
    assert row.children == [] and row.interests == []
    assert activity(live_bot, "deleted") == 1
    sim.assert_no_problems()


def test_editing_children_and_topics_replaces_the_old_answers(sim, live_bot):
    """変更 of children asks them afresh; 変更 of topics starts from the current choice."""
    chat = Chat(sim)
    register_quickly(chat)  # no children, topic 高齢者
    review = next(m for m in chat.menu("review") if m["type"] == "flex")
    chat.tap("変更", message=_nth_change(review, "お子さん"))
    chat.tap("カレンダーで選ぶ", date="2020-02-29")
    changed = chat.tap("これで全部")
    assert "変更しました" in texts(changed)
    review = next(m for m in changed if m["type"] == "flex")
    assert "令和2年2月29日（2020年2月29日）" in texts([review])
    chat.tap("変更", message=_nth_change(review, "知りたい分野"))
    assert "✓高齢者" in chat.labels()
    chat.tap("防災")
    chat.tap("完了")
    row = resident_row(live_bot, chat.user_id)
    assert [c.birth_date for c in row.children] == [dt.date(2020, 2, 29)]
    assert {i.topic for i in row.interests} == {"防災", "高齢者"}
    sim.assert_no_problems()
