"""Roles on every /admin route: each role (and a visitor) walks every route of the app."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.admin.staff import create_staff
from bot.store.models import AuditEntry
from tests.admin.conftest import csrf_token, log_in
from tests.conftest import DEFAULT_NOW

PASSWORD = "role-test-password-2026"
# Every dashboard endpoint and the least role that may use it (None: anyone).
# A new route must be added here, or the walk below fails.
NEEDS = {
    "admin.login": None,
    "admin.logout": "viewer",
    "admin.index": "viewer",
    "admin.campaigns": "viewer",
    "admin.plan_page": "viewer",
    "admin.flex_js": "viewer",
    "admin.flex_css": "viewer",
    "admin.chart": "viewer",
    "admin.export_kpi": "viewer",
    "admin.export_campaigns": "viewer",
    "admin.test_send": "sender",
    "admin.record_visits": "sender",
    "admin.refresh": "sender",
    "admin.audit": "admin",
    "admin.staff_list": "admin",
    "admin.export_audit": "admin",
}
RANK = {None: -1, "viewer": 0, "sender": 1, "admin": 2}


def _routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every /admin route."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        url = rule.rule.replace("<name>", "registrations")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_every_admin_route_is_in_the_table(app):
    """No route escapes the walk: the table and the app list the same endpoints."""
    assert {endpoint for endpoint, _, _ in _routes(app)} == set(NEEDS)


@pytest.mark.parametrize("role", [None, "viewer", "sender", "admin"])
def test_each_role_may_use_exactly_its_routes(app, wiring, role):
    """Allowed: not 403 and not sent to the login form. Forbidden: 403 in Japanese.
    A visitor who is not logged in is sent to the login form from every page but it."""
    client = app.test_client()
    if role is not None:
        create_staff(wiring.session_factory, f"staff-{role}", PASSWORD, DEFAULT_NOW, role)
        assert log_in(client, f"staff-{role}", PASSWORD).status_code == 302
    token = csrf_token(client, "/admin/" if role else "/admin/login")
    routes = sorted(_routes(app), key=lambda r: r[0] == "admin.logout")  # logout last
    for endpoint, method, url in routes:
        if method == "POST":
            response = client.post(url, data={"csrf_token": token})
        else:
            response = client.get(url)
        needed = NEEDS[endpoint]
        where = f"{role} {method} {url}: {response.status_code}"
        if role is None and needed is not None:
            assert response.status_code == 302, where
            assert response.headers["Location"].startswith("/admin/login"), where
        elif RANK[role] >= RANK[needed]:
            # POST /admin/login without a name or password: 401, the form's own answer.
            assert response.status_code in (200, 302) or endpoint == "admin.login", where
            if response.status_code == 302:
                assert not response.headers["Location"].startswith("/admin/login?next"), where
        else:
            assert response.status_code == 403, where
            assert "権限が必要です" in response.get_data(as_text=True), where


def test_a_sender_records_homepage_visitors_and_it_is_audited(app, wiring):
    """The form stores the month's figure; the audit log says who entered what."""
    client = app.test_client()
    create_staff(wiring.session_factory, "配信担当", PASSWORD, DEFAULT_NOW, "sender")
    log_in(client, "配信担当", PASSWORD)
    data = {"csrf_token": csrf_token(client, "/admin/"), "month": "2026-10", "visitors": "4,321"}
    response = client.post("/admin/visits", data=data, follow_redirects=True)
    assert "2026年10月のHP訪問者数を 4,321 人として記録しました" in response.get_data(as_text=True)
    future = {**data, "month": "2027-01"}
    refused = client.post("/admin/visits", data=future, follow_redirects=True)
    assert "記録できませんでした" in refused.get_data(as_text=True)
    with wiring.session_factory() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "homepage_visits"))
        assert [(e.actor, e.detail) for e in entries] == [
            ("配信担当", "month=2026-10 visitors=4321")
        ]


def test_admins_read_and_export_the_audit_log(app, wiring):
    """The audit page lists logins; its CSV is itself an audited export."""
    client = app.test_client()
    create_staff(wiring.session_factory, "管理担当", PASSWORD, DEFAULT_NOW, "admin")
    log_in(client, "管理担当", PASSWORD)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "staff_added" in page and "login" in page
    body = client.get("/admin/export/audit.csv").get_data(as_text=True)
    assert body.startswith("\ufeff日時,職員,操作,内容")
    assert "管理担当,login,address 127.0.0.1" in body


def test_unknown_dashboard_pages_get_a_japanese_404(staff_client):
    """An address that does not exist: 404 with a Japanese page, not Flask's English one."""
    for path in ("/admin/nothing-here", "/admin/charts/other.svg"):
        response = staff_client.get(path)
        assert response.status_code == 404
        assert "ページが見つかりません" in response.get_data(as_text=True)
    assert staff_client.get("/admin/nothing-here").headers["Cache-Control"] == "no-store"
