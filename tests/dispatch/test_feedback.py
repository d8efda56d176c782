"""申請しました / 対象外・不要 on a notice: confirmed, stored, undoable, and obeyed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.clock import TOKYO
from bot.dispatch.run import run_slot
from bot.store.models import ProgramResponse, Resident
from tests.dispatch.conftest import FAST, NOW, notices

REMINDER = dt.datetime(2027, 1, 27, 10, 0, tzinfo=TOKYO)


@pytest.fixture
def sim(sim, live_bot):
    """linesim posting the residents' taps to the live bot's webhook."""
    sim.set_webhook(f"{live_bot.url}/callback")
    return sim


def tap(sim_client, user_id: str, notice: dict, label: str) -> dict:
    """Tap a postback button of a Flex notice, as the resident's phone would."""
    for item in notice["contents"]["footer"]["contents"]:
        for button in item.get("contents", [item]):
            action = button.get("action", {})
            if action.get("label") == label:
                return sim_client.postback(user_id, action["data"], display_text=label)
    raise AssertionError(f"no button {label}")


def replies(sim_client, user_id: str) -> list[dict]:
    return [m["message"] for m in sim_client.messages(user_id) if m["via"] == "reply"]


def applied(sim_client, user_id: str, notice: dict) -> None:
    """申請しました, then はい、申請しました on the confirmation (one slip is not enough)."""
    tap(sim_client, user_id, notice, "申請しました")
    confirm = replies(sim_client, user_id)[-1]
    assert "もう申請されましたか" in confirm["text"]
    yes = confirm["quickReply"]["items"][0]["action"]
    assert yes["label"] == "はい、申請しました"
    sim_client.postback(user_id, yes["data"], display_text=yes["label"])


def register(wiring, user_id: str) -> None:
    with wiring.session_factory() as session, session.begin():
        resident = session.scalar(select(Resident).where(Resident.line_user_id == user_id))
        resident.consented_at = resident.registered_at = NOW
        resident.birth_date = dt.date(1950, 5, 5)


def test_applied_is_stored_confirmed_and_stops_reminders_until_undone(live_bot, sim, clock):
    """申請しました → confirmed → a row and a kind reply with 元に戻す; the reminder skips;
    元に戻す restores; まだです on the confirmation stores nothing."""
    wiring = live_bot.wiring
    user_id = sim.create_user("村山 花子")
    sim.follow(user_id)
    register(wiring, user_id)
    run_slot(wiring, "senior-smartphone-2026", NOW, policy=FAST)
    [notice] = notices(sim, user_id)
    tap(sim, user_id, notice, "申請しました")
    no = replies(sim, user_id)[-1]["quickReply"]["items"][1]["action"]
    assert no["label"] == "まだです"
    sim.postback(user_id, no["data"], display_text=no["label"])
    assert "またお知らせします" in replies(sim, user_id)[-1]["text"]
    with wiring.session_factory() as session:
        assert session.scalars(select(ProgramResponse)).all() == []
    applied(sim, user_id, notice)
    with wiring.session_factory() as session:
        [answer] = session.scalars(select(ProgramResponse))
    assert (answer.program_id, answer.answer) == ("senior-smartphone", "applied")
    thanks = replies(sim, user_id)[-1]
    assert "これからはお送りしません" in thanks["text"]
    assert [i["action"]["label"] for i in thanks["quickReply"]["items"]] == ["元に戻す"]
    clock.set(REMINDER)
    assert run_slot(wiring, "senior-smartphone-2026", REMINDER, policy=FAST).counts == {}
    sim.postback(user_id, thanks["quickReply"]["items"][0]["action"]["data"])
    assert "またお送りします" in replies(sim, user_id)[-1]["text"]
    with wiring.session_factory() as session:
        assert session.scalars(select(ProgramResponse)).all() == []
    sim.assert_no_problems()


def test_not_needed_overwrites_an_earlier_answer(live_bot, sim):
    """対象外・不要 after 申請しました: one row per program, the latest answer."""
    wiring = live_bot.wiring
    user_id = sim.create_user("村山 一郎")
    sim.follow(user_id)
    register(wiring, user_id)
    run_slot(wiring, "senior-smartphone-2026", NOW, policy=FAST)
    [notice] = notices(sim, user_id)
    applied(sim, user_id, notice)
    tap(sim, user_id, notice, "対象外・不要")
    with wiring.session_factory() as session:
        [answer] = session.scalars(select(ProgramResponse))
    assert answer.answer == "not_needed"
    assert "必要ないと承りました" in replies(sim, user_id)[-1]["text"]
