"""Test send from the plan page: to a staff member's own LINE id through the real client."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.admin.staff import create_staff
from bot.store.models import AuditEntry, Delivery
from tests.admin.conftest import csrf_token, log_in
from tests.conftest import DEFAULT_NOW


def test_a_sender_test_sends_to_their_own_line_and_it_is_audited(live_bot, sim, wiring):
    """The notice arrives marked 【テスト配信】; the audit names the staff member; no delivery."""
    staff_line = sim.create_user("職員のLINE")
    sim.follow(staff_line)  # LINE delivers only to users who added the account
    wiring = live_bot.wiring
    create_staff(wiring.session_factory, "配信担当", "a-long-password-1", DEFAULT_NOW, "sender")
    client = live_bot.app.test_client()
    log_in(client, "配信担当", "a-long-password-1")
    data = {
        "csrf_token": csrf_token(client, "/admin/plan"),
        "campaign": "kosodate-ouen-2026",
        "line_user_id": staff_line,
    }
    page = client.post("/admin/plan/test-send", data=data, follow_redirects=True)
    assert "テスト配信を送りました" in page.get_data(as_text=True)
    [notice] = [m["message"] for m in sim.messages(staff_line) if m["message"]["type"] == "flex"]
    assert notice["altText"].startswith("【テスト配信】")
    # The form remembers the id for next time.
    assert f'value="{staff_line}"' in client.get("/admin/plan").get_data(as_text=True)
    with wiring.session_factory() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "test_send")).one()
        assert entry.actor == "配信担当" and "campaign=kosodate-ouen-2026" in entry.detail
        assert staff_line not in entry.detail
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0
    bad = client.post(
        "/admin/plan/test-send", data={**data, "line_user_id": "taro"}, follow_redirects=True
    )
    assert "テスト配信できませんでした" in bad.get_data(as_text=True)
