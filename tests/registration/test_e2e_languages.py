"""Each language end to end through linesim: preselected from the LINE profile (or chosen in
the welcome), registration, the review, a notice in that language, and 申請しました.

The texts are taken from the catalogue (say(key, lang)), so the test follows a translator's
edit; what it pins is that each resident only ever sees their own language.
"""

from __future__ import annotations

import pytest

from bot.dispatch.run import run_slot
from bot.line import gateway
from bot.line.richmenu import ensure_rich_menu, menu_id_for
from messages import say
from tests.conftest import DEFAULT_NOW
from tests.registration.chat import Chat, resident_row, texts

CAMPAIGN = "senior-smartphone-2026"  # senior-smartphone: translated into English only
CITY = {"ja": "村山市", "ja-easy": "むらやまし", "en": "Murayama City", "vi": "Thành phố Murayama"}
# The topic 高齢者 as municipality.yaml's translations name it.
SENIORS = {"ja": "高齢者", "ja-easy": "おとしより", "en": "Seniors", "vi": "Người cao tuổi"}


@pytest.fixture(autouse=True)
def patient_profile(monkeypatch):
    """These tests check what the profile's language selects, not LINE's speed: on a loaded
    test machine linesim may take longer than the production timeout (0.5 s) to answer."""
    monkeypatch.setattr(gateway, "PROFILE_TIMEOUT", 5.0)


def register(chat: Chat, lang: str) -> list[dict]:
    """Consent and answer every question with the buttons of `lang`; all messages seen."""
    seen = chat.tap(say("label_consent", lang))
    seen += chat.tap(say("label_pick_calendar", lang), date="1958-07-03")
    seen += chat.tap("大倉")
    seen += chat.tap(say("persons", lang, n=2))
    seen += chat.tap(say("label_no_children", lang))
    seen += chat.tap(SENIORS[lang])
    seen += chat.tap(say("label_done", lang))
    return seen


def notice_button(notice: dict, label: str) -> dict:
    for item in notice["contents"]["footer"]["contents"]:
        for button in item.get("contents", [item]):
            if button.get("action", {}).get("label") == label:
                return button["action"]
    raise AssertionError(f"no button {label!r}")


# (the resident's language, their LINE app's language)
CASES = [("ja", "ja"), ("en", "en-US"), ("vi", "vi-VN"), ("ja-easy", "ja")]


@pytest.mark.parametrize(("lang", "app"), CASES)
def test_a_resident_registers_reviews_and_answers_a_notice_in_their_language(
    sim, live_bot, lang, app
):
    wiring = live_bot.wiring
    assert ensure_rich_menu(wiring) is not None
    chat = Chat(sim, language=app)
    welcome = chat.follow()
    if lang == "ja-easy":
        # LINE never reports やさしい日本語: chosen from the welcome's 「Language / 言語」.
        assert say("welcome", "ja", city="村山市") in texts(welcome)
        assert "Language / 言語" in chat.labels()
        choice = chat.tap("Language / 言語")
        assert chat.labels() == ["日本語", "やさしい にほんご", "English", "Tiếng Việt"]
        assert "Please choose your language." in texts(choice)
        welcome = chat.tap("やさしい にほんご")
        assert say("language_set", lang) in texts(welcome)
        assert sim.rich_menu_of(chat.user_id) == menu_id_for(wiring, lang)
    else:
        assert say("welcome", lang, city=CITY[lang]) in texts(welcome)
        expected_menu = None if lang == "ja" else menu_id_for(wiring, lang)
        assert sim.rich_menu_of(chat.user_id) == expected_menu
    assert say("privacy", lang) in texts(welcome)
    assert resident_row(live_bot, chat.user_id).language == lang

    seen = register(chat, lang)
    said = texts(seen)
    assert say("finished", lang) in said
    readback = {
        "ja": "昭和33年7月3日（1958年）",
        "ja-easy": "1958ねん 7がつ 3にち",
        "en": "July 3, 1958",
        "vi": "03/07/1958",
    }[lang]
    assert say("date_registered", lang, date=readback) in said

    review = chat.menu("review")
    shown = texts(review)
    for key in ("review_title", "field_birth_date", "field_district", "field_language"):
        assert say(key, lang) in shown
    assert SENIORS[lang] in shown
    assert {
        "ja": "昭和33年7月3日（1958年7月3日）",
        "ja-easy": "1958ねん 7がつ 3にち",
        "en": "July 3, 1958",
        "vi": "03/07/1958",
    }[lang] in shown

    summary = run_slot(wiring, CAMPAIGN, DEFAULT_NOW)
    assert summary.counts == {"sent": 1}
    [notice] = [m["message"] for m in sim.messages(chat.user_id) if m["via"] != "reply"]
    body = texts([notice])
    translated = lang in ("ja", "en")
    name = {
        "ja": "シニア世代スマホスタート応援補助金",
        "en": "Smartphone Start Subsidy for Seniors",
    }.get(lang, "シニア世代スマホスタート応援補助金")
    assert name in body and name in notice["altText"]
    assert (say("translation_missing", lang) in body) is not translated
    deadline = {
        "ja": "令和9年2月26日（金）",
        "ja-easy": "2027ねん 2がつ 26にち（きんようび）",
        "en": "February 26, 2027 (Fri)",
        "vi": "26/02/2027 (Thứ Sáu)",
    }[lang]
    assert say("deadline", lang, closes=deadline, days=96) in body
    assert say("notice_feedback_hint", lang) in body

    applied = notice_button(notice, say("label_applied", lang))
    sim.postback(chat.user_id, applied["data"], display_text=applied["label"])
    confirm = chat.new()[-1]
    assert say("feedback_confirm_applied", lang, program=name) in confirm["text"]
    chat.tap(say("label_confirm_applied", lang))
    thanks = chat.last()
    assert say("feedback_applied", lang, program=name) in thanks["text"]
    assert chat.labels() == [say("label_undo", lang)]
    sim.assert_no_problems()


def test_a_resident_changes_language_from_the_menu(sim, live_bot):
    """From the review's language row: the choice, then everything (and the rich menu) in
    the new language; back to Japanese shows the default menu again."""
    wiring = live_bot.wiring
    ensure_rich_menu(wiring)
    chat = Chat(sim)
    chat.follow()
    register(chat, "ja")
    review = chat.menu("review")
    flex = next(m for m in review if m["type"] == "flex")
    chat.tap("変更", message={"contents": flex["contents"]["body"]["contents"][-3]})
    assert chat.labels() == ["日本語", "やさしい にほんご", "English", "Tiếng Việt"]
    answer = chat.tap("Tiếng Việt")
    assert say("language_set", "vi") in texts(answer)
    assert say("review_title", "vi") in texts(answer)  # back where they were: the review
    assert sim.rich_menu_of(chat.user_id) == menu_id_for(wiring, "vi")
    assert say("paused", "vi") in texts(chat.menu("pause"))
    chat.say("What is this?")  # typed text: the analog route, in Vietnamese
    assert say("help", "vi").split("\n")[0] in texts([chat.last()])
    assert "Language / 言語" in chat.labels()
    chat.tap("Language / 言語")
    chat.tap("日本語")
    assert sim.rich_menu_of(chat.user_id) is None  # the default (Japanese) menu
    assert resident_row(live_bot, chat.user_id).language == "ja"
    sim.assert_no_problems()


def test_deleting_keeps_talking_in_the_resident_language(sim, live_bot):
    chat = Chat(sim, language="en")
    chat.follow()
    register(chat, "en")
    chat.menu("delete")
    assert say("deleted", "en") in texts(chat.tap(say("label_delete", "en")))
    row = resident_row(live_bot, chat.user_id)
    assert row.language == "en" and row.birth_date is None and row.consented_at is None


@pytest.mark.parametrize("app", ["", "en-US"])  # "": the profile has no language
def test_a_follow_asks_line_for_the_profile_once_before_its_transaction(sim, live_bot, app):
    """The profile is asked once per follow, also when LINE's profile has no `language`
    (a LINE app that does not share it): asked again inside the event's transaction, the
    wait on LINE held the database's write lock and every other webhook waited behind it."""
    chat = Chat(sim, language=app)
    chat.follow()
    profile_calls = [r for r in sim.requests() if r["path"] == f"/v2/bot/profile/{chat.user_id}"]
    assert len(profile_calls) == 1
    lang = "en" if app else "ja"
    assert resident_row(live_bot, chat.user_id).language == lang
    assert say("label_consent", lang) in chat.labels()  # welcomed in that language


def test_unblocking_keeps_the_language_without_asking_line_again(sim, live_bot):
    """Someone who blocked the account and unblocks it is still known (within the retention
    time): welcomed back in the language they had, and LINE's profile is not asked again —
    a call to LINE saved on the follow's way. Someone no longer known (purged) is asked."""
    from sqlalchemy import delete

    from bot.store.models import Resident

    def profile_calls(chat: Chat) -> int:
        return [r["path"] for r in sim.requests()].count(f"/v2/bot/profile/{chat.user_id}")

    chat = Chat(sim, language="en-US")
    chat.follow()
    register(chat, "en")
    sim.unfollow(chat.user_id)
    back = chat.follow()
    assert profile_calls(chat) == 1  # the first follow only
    assert say("welcome_back", "en") in texts(back)
    assert resident_row(live_bot, chat.user_id).language == "en"

    purged = Chat(sim, language="vi-VN")
    purged.follow()
    sim.unfollow(purged.user_id)
    with live_bot.wiring.session_factory.begin() as session:  # as the nightly purge does
        session.execute(delete(Resident).where(Resident.line_user_id == purged.user_id))
    purged.follow()
    assert profile_calls(purged) == 2
    assert resident_row(live_bot, purged.user_id).language == "vi"


def test_a_slow_line_profile_gives_japanese_and_is_not_asked_again_for_a_while(
    sim, live_bot, monkeypatch
):
    """LINE answering the profile later than the timeout: the follow goes on in Japanese at
    once, and the next follows do not wait on LINE again (paused after the timeout)."""
    monkeypatch.setattr(gateway, "PROFILE_TIMEOUT", 0.2)
    sim.faults(latency_ms=600)
    first, second = Chat(sim, language="en-US"), Chat(sim, language="en-US")
    first.follow()
    second.follow()
    sim.faults()
    asked = [r for r in sim.requests() if r["path"].startswith("/v2/bot/profile/")]
    assert [r["path"].rsplit("/", 1)[1] for r in asked] == [first.user_id]
    for chat in (first, second):
        assert resident_row(live_bot, chat.user_id).language == "ja"
        assert say("label_consent", "ja") in chat.labels()
