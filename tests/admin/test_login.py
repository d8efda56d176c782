"""Staff login: pages need it, wrong passwords fail, guessing is limited, forms need CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.models import StaffUser
from tests.admin.conftest import STAFF_NAME, STAFF_PASSWORD, csrf_token, log_in
from tests.helpers import audit

PAGES = [
    "/admin/",
    "/admin/charts/registrations.svg",
    "/admin/charts/clicks.svg",
    "/admin/export/kpi.csv",
    "/admin/export/campaigns.csv",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_visitor_to_the_login_form(client, path):
    """Not logged in: 302 to /admin/login, remembering the page."""
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
    assert response.headers["Cache-Control"] == "no-store"


def test_login_opens_the_dashboard_and_is_audited(client, staff, wiring):
    """The right password leads to the page asked for; the login is in the audit log."""
    response = log_in(client, next_path="/admin/export/kpi.csv")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/export/kpi.csv"
    assert client.get("/admin/").status_code == 200
    assert (STAFF_NAME, "login") in audit(wiring)


def test_wrong_password_is_refused_without_naming_what_was_wrong(client, staff, wiring):
    """401 with one message for a wrong password and an unknown name alike."""
    wrong = log_in(client, password="not-the-password")
    unknown = log_in(client, name="だれか")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "名前またはパスワードが違います" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert audit(wiring)[-2:] == [("-", "login_failed"), ("-", "login_failed")]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/admin/",
        "/\\evil.example",
        "/admin/../../x",
        "javascript:alert(1)",
        "/admin//evil.example",
        "/callback",
    ],
)
def test_login_never_redirects_outside_the_dashboard(client, staff, target):
    """A `next` that is not a plain /admin/ path falls back to the dashboard."""
    response = log_in(client, next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_five_failures_for_one_name_block_it_even_with_the_right_password(client, staff, wiring):
    """The sixth attempt gets 429 and a Japanese message, before the password is checked."""
    for _ in range(5):
        assert log_in(client, password="guess-guess-guess").status_code == 401
    blocked = log_in(client)
    assert blocked.status_code == 429
    assert "しばらくログインできません" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) > 0
    assert ("-", "login_blocked") in audit(wiring)
    # Another address guessing another name is not held up by this name's limit.
    assert log_in(client, name="別の人", address="10.0.0.9").status_code == 401


def test_many_failures_from_one_address_block_that_address(client, staff):
    """Spraying many names from one address is stopped at 20 failures."""
    for i in range(20):
        assert log_in(client, name=f"guess-{i}", address="10.1.1.1").status_code == 401
    assert log_in(client, address="10.1.1.1").status_code == 429
    assert log_in(client, address="10.2.2.2").status_code == 302


def test_a_post_without_csrf_token_is_refused(client, staff):
    """Login and logout forms without a token: 400, nobody is logged in or out."""
    response = client.post("/admin/login", data={"name": STAFF_NAME, "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert "ページを読み込み直して" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert log_in(client).status_code == 302
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200


def test_the_webhook_needs_no_csrf_token(client):
    """/callback is exempt: its LINE signature protects it (400 names the signature)."""
    response = client.post("/callback", data="{}", content_type="application/json")
    assert response.status_code == 400
    assert "X-Line-Signature" in response.get_data(as_text=True)


def test_logout_ends_the_session(staff_client, wiring):
    """After logout the dashboard asks for the login again."""
    token = csrf_token(staff_client, "/admin/")
    assert staff_client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert staff_client.get("/admin/").status_code == 302
    assert (STAFF_NAME, "logout") in audit(wiring)


def test_removing_a_staff_login_ends_its_sessions(staff_client, wiring):
    """A cookie of a deleted login no longer opens the dashboard."""
    with wiring.session_factory() as s, s.begin():
        s.delete(s.scalar(select(StaffUser)))
    assert staff_client.get("/admin/").status_code == 302


def test_pages_are_not_cached_and_have_a_strict_csp(staff_client):
    """no-store, no script allowed, no framing; the session cookie is HttpOnly and Lax."""
    response = staff_client.get("/admin/")
    csp = response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "<script" not in response.get_data(as_text=True)
    cookie = staff_client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_session_cookie_is_secure_when_the_public_url_is_https(engine, clock):
    """Behind https the cookie is sent over https only."""
    from bot.app import create_app
    from bot.wiring import wire
    from tests.conftest import make_settings

    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, public_url="https://todoku.city.murayama.lg.jp")
    app = create_app(wiring=wire(settings, clock=clock, engine=engine))
    assert app.config["SESSION_COOKIE_SECURE"] is True
