"""The dashboard in real Chromium: log in through the form, read the KPIs, download the CSV."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.admin import scenario
from tests.admin.conftest import STAFF_NAME, STAFF_PASSWORD
from tests.conftest import browser_env
from tests.helpers import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"Chromium is not installed at {CHROMIUM}"
    ),
]


@pytest.fixture
def served(app):
    """The web app (real factory, test database and clock) on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-live", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def browser_page():
    """A Chromium page that records console errors (a CSP violation would be one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=browser_env())
        context = browser.new_context(locale="ja-JP", accept_downloads=True)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        yield page
        browser.close()


def test_staff_logs_in_sees_the_kpis_and_downloads_the_csv(served, browser_page, staff, rows):
    """Login form → 登録者数 16 with the charts drawn → the CSV link saves kpi-2026.csv."""
    with rows as r:
        scenario.build(r)
    page = browser_page
    page.goto(served + "/admin/")
    assert page.url.startswith(served + "/admin/login?next=")
    page.fill("#name", STAFF_NAME)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(served + "/admin/")

    registrations = page.locator("#kpi-registrations .value")
    assert registrations.inner_text() == str(scenario.REGISTRATIONS)
    assert "登録者数" in page.locator("#kpi-registrations h2").inner_text()
    for chart in page.locator("figure img").all():
        chart.scroll_into_view_if_needed()
        # A chart blocked by the CSP, or not an SVG, has no natural width.
        loaded = "img => img.complete && img.naturalWidth > 0"
        page.wait_for_function(loaded, arg=chart.element_handle())
    svg = page.request.get(served + "/admin/charts/registrations.svg")
    assert svg.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert "<svg" in svg.text()

    with page.expect_download() as info:
        page.click("text=CSVでダウンロード（kpi-2026.csv）")
    download = info.value
    assert download.suggested_filename == "kpi-2026.csv"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("年月,新規友だち,ブロック,登録完了,削除,配信件数")
    assert lines[8] == "2026年11月,0,0,3,0,5,2,30,4,16,,5500,10,5000"
    assert [e for e in page.errors if "404 (NOT FOUND)" not in e] == []  # the 404 page


SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PAGES = [
    ("kpi", "/admin/", "#kpi-registrations"),
    ("campaigns", "/admin/campaigns", "#campaign-kosodate-ouen-2026"),
    ("plan", "/admin/plan", ".preview .f-bubble"),
    ("audit", "/admin/audit", "#audit"),
    ("staff", "/admin/staff", "#staff"),
    ("not-found", "/admin/no-such-page", "h1"),
]


@pytest.fixture
def admin_login(wiring):
    """An admin login (sees every page)."""
    from bot.admin.staff import create_staff

    when = scenario.at("2026-04-01 09:00")
    create_staff(wiring.session_factory, "管理 花子", STAFF_PASSWORD, when, "admin")
    return "管理 花子"


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_page_at_desktop_and_phone_width(
    served, browser_page, admin_login, rows, size, backend, wiring, tmp_path
):
    """Each page renders under its CSP without errors, fits the screen (tables scroll inside
    their box), draws its charts and previews. Its screenshots go to a temporary folder;
    with TODOKU_SCREENSHOTS=docs/screenshots to the staff guide's pictures."""
    from bot.kpi import record_homepage_visits

    shots = Path(os.environ.get("TODOKU_SCREENSHOTS") or tmp_path)

    with rows as r:
        scenario.build(r)
    record_homepage_visits(
        wiring.session_factory,
        scenario.at("2026-10-01 00:00").date(),
        4321,
        scenario.at("2026-11-02 09:00"),
        admin_login,
    )
    page = browser_page
    # The plan page counts every coming slot's audience: give a loaded CI machine time.
    page.set_default_timeout(60_000)
    page.set_viewport_size(SIZES[size])
    page.goto(served + "/admin/login")
    page.fill("#name", admin_login)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(served + "/admin/")
    for name, path, ready in PAGES:
        response = page.goto(served + path)
        assert response.status == (404 if name == "not-found" else 200), path
        page.wait_for_selector(ready)
        for image in page.locator("figure img").all():
            image.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
            )
        if size == "phone":
            # Nothing wider than the screen: the page never scrolls sideways.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
            for image in page.locator("figure img").all():
                assert "size=phone" in image.evaluate("img => img.currentSrc")  # narrow chart
                assert image.evaluate("img => img.naturalWidth") == 480
        if backend == "sqlite" and name == "kpi":  # the charts, as drawn at this width
            chart = page.locator("#chart-visitors")
            chart.screenshot(path=str(shots / f"chart-visitors-{size}.png"))
        page.evaluate("window.scrollTo(0, 0)")
        if backend == "sqlite":  # one set of pictures is enough
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{name}-{size}.png"))
    plan = page.goto(served + "/admin/plan")
    assert plan.status == 200
    bubbles = page.locator(".preview .f-bubble")
    assert bubbles.count() >= 1
    assert "申請しました" in page.locator(".preview").first.inner_text()
    page.goto(served + "/admin/")
    assert page.inner_text("#asof-label") == "11月22日 10時00分時点の集計"
    page.click("text=今すぐ更新")  # counts again now (no scheduler in this test)
    page.wait_for_url(served + "/admin/")
    assert "集計を更新しました（11月22日 10時00分時点の集計）。" in page.inner_text("main")
    page.click("text=ログアウト")
    page.wait_for_url(served + "/admin/login?done=logout")
    assert "ログアウトしました" in page.inner_text("main")
    if backend == "sqlite":
        page.screenshot(path=str(shots / f"logged-out-{size}.png"))
    assert [e for e in page.errors if "404 (NOT FOUND)" not in e] == []  # the 404 page
