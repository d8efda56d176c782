"""家族の登録 (代理受信) end to end through linesim, on SQLite and PostgreSQL: a resident
adds their mother, her answers match a program, the notice names her and comes to the
resident's LINE, 申請しました acts for her, her answers are reviewed, changed and deleted;
deleting the account deletes its family profiles."""

from __future__ import annotations

from sqlalchemy import select

from bot.dispatch.catchup import catch_up
from bot.dispatch.run import run_slot
from bot.dispatch.send import SendPolicy
from bot.store.models import Delivery, ProgramResponse, Resident
from tests.registration.chat import Chat, resident_row, texts

FAST = SendPolicy(attempts=3, wait_first=0.001, wait_max=0.01, rate="1000/second")
CAMPAIGN = "senior-smartphone-2026"  # eligible: age 65 and over


def register_skipping_everything(chat: Chat) -> None:
    """Consent, then 答えない to every question: registered, eligible for nothing personal."""
    chat.follow()
    chat.tap("同意して登録する")
    while "答えない" in chat.labels():
        chat.tap("答えない")
    if "完了" in chat.labels():
        chat.tap("完了")


def add_mother(chat: Chat, born: str = "1940-04-01") -> list[dict]:
    """家族の登録 from the review: consent for her data, her label typed, her answers."""
    review = chat.menu("review")
    listing = chat.tap("家族の登録", message=review[0])
    assert "家族の登録" in texts(listing)
    consent = chat.tap("家族を追加する", message=listing[0])
    assert "ご家族の答え" in texts(consent) and "同意して追加する" in chat.labels()
    asked = chat.tap("同意して追加する")
    assert "何とお呼びしますか" in texts(asked) and "母" in chat.labels()
    first = chat.say("母")
    assert "【お母さま（母）についてお聞きします】" in texts(first)
    said = chat.tap("カレンダーで選ぶ", date=born)
    assert "【お母さま（母）についてお聞きします】" in texts(said)
    chat.tap("大倉")
    replies = chat.tap("1人")
    while "答えない" in chat.labels() or "完了" in chat.labels():
        replies = chat.tap("答えない" if "答えない" in chat.labels() else "完了")
    return replies


def mother(wiring, user_id: str) -> Resident | None:
    with wiring.session_factory() as s:
        holder = s.scalar(select(Resident).where(Resident.line_user_id == user_id))
        return s.scalar(select(Resident).where(Resident.guardian_id == holder.id))


def notices(sim, user_id: str) -> list[dict]:
    return [
        m["message"]
        for m in sim.messages(user_id)
        if m["message"]["type"] == "flex" and m["via"] != "reply"
    ]


def tap_notice(sim, user_id: str, notice: dict, label: str) -> None:
    for item in notice["contents"]["footer"]["contents"]:
        for button in item.get("contents", [item]):
            action = button.get("action", {})
            if action.get("label") == label:
                sim.postback(user_id, action["data"], display_text=label)
                return
    raise AssertionError(f"no button {label}")


def test_a_mother_is_added_matched_notified_answered_changed_and_deleted(sim, live_bot):
    wiring = live_bot.wiring
    chat = Chat(sim)
    register_skipping_everything(chat)
    done = add_mother(chat)
    assert "お母さま（母）の登録が終わりました" in texts(done)
    profile = mother(wiring, chat.user_id)
    holder = resident_row(live_bot, chat.user_id)
    assert (profile.line_user_id, profile.label, str(profile.birth_date)) == (
        None,
        "母",
        "1940-04-01",
    )
    assert profile.district == "大倉" and profile.registered_at is not None
    assert profile.consented_at == holder.consented_at and profile.following
    assert holder.birth_date is None  # her answers are hers, not the resident's

    # Matched on her own answers; the notice comes to the resident's LINE, naming her.
    summary = run_slot(wiring, CAMPAIGN, wiring.clock.now(), policy=FAST)
    assert summary.counts == {"sent": 1}
    [notice] = notices(sim, chat.user_id)
    assert notice["altText"].startswith("お母さま（母）向けのお知らせです。")
    assert "お母さま（母）向けのお知らせです。" in texts([notice]).splitlines()[0]
    chat.new()

    # 申請しました acts for her (confirmed once more, as for the resident).
    tap_notice(sim, chat.user_id, notice, "申請しました")
    assert "お母さま（母）の分です。" in texts(chat.new())
    chat.tap("はい、申請しました")
    with wiring.session_factory() as s:
        answers = s.execute(select(ProgramResponse.resident_id, ProgramResponse.answer)).all()
    assert answers == [(profile.id, "applied")]

    # Reviewed and changed from 家族の登録.
    listing = chat.menu("family")
    review = chat.tap("確認・変更", message=listing[0])
    assert "お母さま（母）の登録内容" in texts(review) and "大倉" in texts(review)
    district_row = review[0]["contents"]["body"]["contents"][3]  # birth date, sep, district
    change = next(a for a in _buttons(district_row) if a["label"] == "変更")
    sim.postback(chat.user_id, change["data"], display_text=change["displayText"])
    asked = chat.new()
    assert "【お母さま（母）についてお聞きします】" in texts(asked)
    changed = chat.tap("楯岡")
    assert "お母さま（母）の登録内容" in texts(changed) and "楯岡" in texts(changed)
    assert mother(wiring, chat.user_id).district == "楯岡"
    assert resident_row(live_bot, chat.user_id).district is None

    # Deleted: her row, answers and program answers go; the notice's count stays.
    listing = chat.menu("family")
    confirm = chat.tap("削除", message=listing[0])
    assert "お母さま（母）の登録内容" in texts(confirm) and "元には戻せません" in texts(confirm)
    gone = chat.tap("削除する")
    assert "お母さま（母）の登録内容を削除しました" in texts(gone)
    assert mother(wiring, chat.user_id) is None
    with wiring.session_factory() as s:
        assert s.scalars(select(ProgramResponse)).all() == []
        assert s.execute(select(Delivery.resident_id, Delivery.status)).all() == [(None, "sent")]
    sim.assert_no_problems()


def test_a_mother_added_after_the_slot_ran_gets_the_announcement_once_by_catch_up(sim, live_bot):
    """Issue 12 with family: her profile, registered after the campaign's slot ran, brings
    the announcement to the resident's LINE by the catch-up pass, naming her, once."""
    wiring = live_bot.wiring
    chat = Chat(sim)
    register_skipping_everything(chat)
    before = run_slot(wiring, CAMPAIGN, wiring.clock.now(), policy=FAST)
    assert before.counts.get("sent", 0) == 0 and notices(sim, chat.user_id) == []

    add_mother(chat)
    first = catch_up(wiring, policy=FAST)
    assert first.recorded == {CAMPAIGN: 1}
    [notice] = notices(sim, chat.user_id)
    assert notice["altText"].startswith("お母さま（母）向けのお知らせです。")
    chat.new()

    # Changing her answer again marks her again; the announcement is not repeated.
    listing = chat.menu("family")
    review = chat.tap("確認・変更", message=listing[0])
    district_row = review[0]["contents"]["body"]["contents"][3]
    change = next(a for a in _buttons(district_row) if a["label"] == "変更")
    sim.postback(chat.user_id, change["data"], display_text=change["displayText"])
    chat.new()
    chat.tap("楯岡")
    again = catch_up(wiring, policy=FAST)
    assert again.marks >= 1 and sum(again.recorded.values()) == 0
    assert len(notices(sim, chat.user_id)) == 1
    sim.assert_no_problems()


def test_self_and_mother_get_one_notice_and_the_account_deletion_takes_her_along(sim, live_bot):
    wiring = live_bot.wiring
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    chat.tap("カレンダーで選ぶ", date="1950-05-05")  # 76: eligible too
    while "答えない" in chat.labels():
        chat.tap("答えない")
    if "完了" in chat.labels():
        chat.tap("完了")
    add_mother(chat, born="1930-01-01")
    run_slot(wiring, CAMPAIGN, wiring.clock.now(), policy=FAST)
    [notice] = notices(sim, chat.user_id)
    assert notice["altText"].startswith("ご本人とお母さま（母）向けのお知らせです。")
    # Blocking the account stops her notices too; following again restores both.
    sim.unfollow(chat.user_id)
    assert mother(wiring, chat.user_id).following is False
    sim.follow(chat.user_id)
    assert mother(wiring, chat.user_id).following is True
    chat.new()
    chat.menu("delete")
    chat.tap("削除する")
    with wiring.session_factory() as s:
        assert s.scalars(select(Resident).where(Resident.guardian_id.is_not(None))).all() == []
    sim.assert_no_problems()


def test_a_label_is_checked_and_the_consent_names_family_data(sim, live_bot):
    chat = Chat(sim)
    welcome = chat.follow()
    assert "ご家族の分も登録するときは" in texts(welcome)
    register_skipping_everything(chat)
    listing = chat.menu("family")
    chat.tap("家族を追加する", message=listing[0])
    chat.tap("同意して追加する")
    assert "10文字まで" in texts(chat.say("とても長い呼び方のおばあちゃん"))
    chat.say("ハナコ")
    chat.tap("答えない")  # her birth date
    assert "ハナコ" in texts(chat.new() or [chat.last()])
    # Half-way: the list says so and offers to go on.
    listing = chat.menu("family")
    assert "ご家族（ハナコ）（登録の途中です）" in texts(listing)
    chat.tap("続きを答える", message=listing[0])
    # The same label twice is refused.
    while "答えない" in chat.labels() or "完了" in chat.labels():
        chat.tap("答えない" if "答えない" in chat.labels() else "完了")
    listing = chat.menu("family")
    chat.tap("家族を追加する", message=listing[0])
    chat.tap("同意して追加する")
    assert "もう登録されています" in texts(chat.say("ハナコ"))
    sim.assert_no_problems()


def _buttons(node) -> list[dict]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "button":
            found.append(node["action"])
        for value in node.values():
            found += _buttons(value)
    elif isinstance(node, list):
        for value in node:
            found += _buttons(value)
    return found
