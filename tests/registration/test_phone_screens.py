"""At phone width (390 px) in real Chromium: a resident of 78 registers on linesim's chat
page by typing the birth date and tapping chips, and reads a notice; nothing overflows
sideways. With TODOKU_SCREENSHOTS=docs/screenshots the screens are saved there for the
staff guide (docs/staff-guide.md, chapter 12)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest

from bot.line.richmenu import ensure_rich_menu
from messages import NoticeLinks, city_of, notice_object
from tests.conftest import browser_env
from tests.helpers import ARGS, CHROMIUM

PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"Chromium is not installed at {CHROMIUM}"
    ),
]


@pytest.fixture
def phone(linesim_server, live_bot, sim):
    """A Chromium page the size of a phone on linesim's chat page, the bot behind it."""
    from playwright.sync_api import sync_playwright

    ensure_rich_menu(live_bot.wiring)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=browser_env())
        context = browser.new_context(
            locale="ja-JP", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(linesim_server.url + "/")
        yield page
        browser.close()


def save(page, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("TODOKU_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.locator("#phone").screenshot(path=str(path))
    return path


def welcomed(page, sim, label: str):
    """The welcome's chip `label`, once it is on screen; if it never comes, fail saying what
    linesim's page heard from the bot's webhook and which calls reached linesim (CI once
    waited 15 s here with nothing from the bot in the captured log)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    chip = page.locator(".chip", has_text=label)
    try:
        chip.wait_for()
    except PlaywrightTimeout as exc:
        status = page.locator("#webhook-status").inner_text()
        calls = [(r.get("method"), r.get("path"), r.get("status")) for r in sim.requests()]
        raise AssertionError(
            f"no {label!r} chip; webhook status on the page: {status!r}; "
            f"the last calls to linesim: {calls[-6:]}"
        ) from exc
    return chip


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def test_registration_and_a_notice_at_phone_width(phone, sim, live_bot, tmp_path):
    page = phone
    timeline = page.locator("#timeline")
    page.fill("#new-user-name", "村山 トメ")
    page.get_by_role("button", name="利用者を追加").click()
    page.get_by_role("button", name="友だち追加").click()
    welcomed(page, sim, "同意して登録する").click()
    page.locator(".chip", has_text="昭和生まれ").wait_for()
    page.locator(".chatbar").click()  # fold the rich menu away, as residents do, to read more
    no_sideways_scroll(page)
    page.fill("#message-text", "昭和23年5月3日")
    page.get_by_role("button", name="送信").click()
    timeline.get_by_text("昭和23年5月3日（1948年）で登録しました").wait_for()
    page.locator(".chip", has_text="楯岡").click()
    page.locator(".chip", has_text="1人").wait_for()
    page.locator(".chip", has_text="1人").click()
    page.locator(".chip", has_text="完了").wait_for()
    assert "（4/4）" in timeline.inner_text()  # living alone: the rest cannot apply
    no_sideways_scroll(page)
    assert save(page, tmp_path, "registration").stat().st_size > 10_000
    page.locator(".chip", has_text="高齢者").click()
    page.locator(".chip", has_text="✓高齢者").wait_for()
    page.locator(".chip", has_text="完了").click()
    timeline.get_by_text("登録ができました").wait_for()

    wiring = live_bot.wiring
    program = wiring.config.program("senior-smartphone")
    links = NoticeLinks(program.homepage, program.apply_url)
    notice = notice_object(
        program,
        "申請期限が近づいています。",
        links,
        dt.date(2026, 11, 22),
        city_of(wiring.config.municipality),
    )
    user_id = sim.users()[0]["user_id"]
    wiring.dispatcher.sender.multicast([user_id], [notice], retry_key=str(uuid.uuid4()))
    bubble = page.locator(".f-bubble", has_text=program.name)
    bubble.wait_for()
    assert "令和9年2月26日（金）まで" in bubble.inner_text()
    bubble.scroll_into_view_if_needed()
    no_sideways_scroll(page)
    assert save(page, tmp_path, "notice").stat().st_size > 10_000
    bubble.locator(".f-button", has_text="申請しました").click()
    page.locator(".chip", has_text="はい、申請しました").wait_for()
    assert save(page, tmp_path, "applied-confirm").stat().st_size > 10_000
    sim.assert_no_problems()
