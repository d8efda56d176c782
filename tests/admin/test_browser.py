"""The dashboard in real Chromium: log in through the form, read the KPIs, download the CSV."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.admin import scenario
from tests.admin.conftest import STAFF_NAME, STAFF_PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

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
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
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
    assert lines[8] == "2026年11月,0,0,3,0,5,2,30,4"
    assert page.errors == []
