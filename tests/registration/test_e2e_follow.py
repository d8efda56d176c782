"""Through linesim: the real SDK client, signed webhooks, real HTTP both ways."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.models import Resident


def test_follow_through_linesim_creates_resident_and_welcomes(sim, live_bot):
    """A simulated resident adds the account and sees the bot's welcome in their chat."""
    user = sim.create_user("村山 花子")
    answer = sim.follow(user)
    assert answer["webhook"]["status"] == 200, answer
    received = sim.messages(user)
    assert received, "the resident got no welcome"
    assert "公式アカウント" in str(received[0])
    with live_bot.wiring.session_factory() as s:
        resident = s.scalar(select(Resident).where(Resident.line_user_id == user))
    assert resident is not None and resident.following
    sim.assert_no_problems()
