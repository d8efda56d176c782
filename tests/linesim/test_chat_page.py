"""The staff chat page in real Chromium: residents, bot messages, chips, Flex, date picker."""

from __future__ import annotations

import os

import pytest
from linebot.v3.messaging import (
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)

from tests.conftest import browser_env
from tests.helpers import ARGS, CHROMIUM, png
from tests.linesim.fakebot import FORM_URL

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"Chromium is not installed at {CHROMIUM}"
    ),
]


@pytest.fixture
def page(running):
    """A Chromium page on the chat page; https://example.com is answered locally."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=browser_env())
        context = browser.new_context(locale="ja-JP")
        context.route(
            "https://example.com/**",
            lambda route: route.fulfill(body="<h1>申請フォーム</h1>", content_type="text/html"),
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(running.url + "/")
        yield page
        browser.close()


def add_default_menu(api, blob) -> None:
    """A default rich menu with one postback area."""
    menu_id = api.create_rich_menu(
        RichMenuRequest(
            size=RichMenuSize(width=2500, height=843),
            selected=True,
            name="main",
            chat_bar_text="メニュー",
            areas=[
                RichMenuArea(
                    bounds=RichMenuBounds(x=0, y=0, width=1250, height=843),
                    action=PostbackAction(label="お知らせ詳細", data="notice=detail"),
                )
            ],
        )
    ).rich_menu_id
    blob.set_rich_menu_image(menu_id, png(2500, 843), _headers={"Content-Type": "image/png"})
    api.set_default_rich_menu(menu_id)


def test_staff_walk_through_a_registration_and_a_notice(page, bot, sim, api, blob):
    """Create, follow, chip, date picker, Flex buttons, typing, rich menu and block all work."""
    add_default_menu(api, blob)
    timeline = page.locator("#timeline")
    page.fill("#new-user-name", "山田 花子")
    page.get_by_role("button", name="利用者を追加").click()
    page.get_by_role("button", name="友だち追加").click()
    page.locator(".row.bot", has_text="ようこそ！").wait_for()
    assert "ようこそ！\n生年月日を教えてください。" in timeline.inner_text()

    page.locator(".chip", has_text="生年月日").click()
    picker = page.locator("#picker-input")
    assert (
        picker.get_attribute("type"),
        picker.get_attribute("min"),
        picker.get_attribute("max"),
        picker.input_value(),
    ) == ("date", "1900-01-01", "2026-11-22", "1980-01-01")
    picker.fill("1990-05-01")
    page.get_by_role("button", name="決定").click()
    timeline.get_by_text("生年月日: 1990-05-01").wait_for()

    page.locator(".chip", has_text="お知らせを見る").click()
    page.locator(".row.me", has_text="お知らせを見る").wait_for()
    page.locator(".f-bubble", has_text="子育て応援給付金").wait_for()
    page.locator(".f-button.primary", has_text="詳しく見る").click()
    timeline.get_by_text("詳細: 中学生以下のお子さんがいる世帯が対象です。").wait_for()

    with page.context.expect_page() as popup:
        page.locator(".f-button.link", has_text="申請フォーム").click()
    assert popup.value.url == FORM_URL

    page.fill("#message-text", "相談できますか")
    page.get_by_role("button", name="送信").click()
    timeline.get_by_text("受信: 相談できますか").wait_for()

    page.locator(".richmenu-cell", has_text="お知らせ詳細").click()
    page.wait_for_function("document.querySelectorAll('.row.bot').length === 6")
    assert "ボットの応答: 200" in page.inner_text("#webhook-status")

    page.get_by_role("button", name="ブロック").click()
    page.locator("#friend-status", has_text="ブロック中").wait_for()
    user_id = sim.users()[0]["user_id"]
    assert [m["via"] for m in sim.messages(user_id)] == ["reply"] * 6
    sim.assert_no_problems()


EVERY_COMPONENT = {
    "type": "bubble",
    "hero": {"type": "image", "url": "https://example.com/hero.png", "size": "full"},
    "body": {
        "type": "box",
        "layout": "vertical",
        "contents": [
            {
                "type": "text",
                "contents": [
                    {"type": "span", "text": "申請期限 "},
                    {"type": "span", "text": "12月20日", "weight": "bold"},
                ],
            },
            {
                "type": "box",
                "layout": "baseline",
                "contents": [
                    {"type": "icon", "url": "https://example.com/pin.png"},
                    {"type": "text", "text": "楯岡地区"},
                ],
            },
            {"type": "separator"},
            {
                "type": "box",
                "layout": "horizontal",
                "contents": [
                    {"type": "filler"},
                    {
                        "type": "text",
                        "text": "詳細はこちら",
                        "action": {"type": "postback", "label": "詳細", "data": "notice=detail"},
                    },
                ],
            },
        ],
    },
    "footer": {
        "type": "box",
        "layout": "vertical",
        "contents": [
            {
                "type": "button",
                "style": "secondary",
                "action": {"type": "postback", "label": "あとで", "data": "later"},
            }
        ],
    },
}


def test_every_flex_component_is_shown_and_usable_by_keyboard(page, bot, sim, api):
    """Spans, icons, images, separators and fillers render; a tappable text works with Enter."""
    from linebot.v3.messaging import FlexContainer, FlexMessage, PushMessageRequest

    user = sim.create_user("鍵盤 操作")
    bot.reply = True
    sim.follow(user)
    api.push_message(
        PushMessageRequest(
            to=user,
            messages=[
                FlexMessage(alt_text="お知らせ", contents=FlexContainer.from_dict(EVERY_COMPONENT))
            ],
        )
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    page.locator("#user-list button", has_text="鍵盤 操作").click()
    bubble = page.locator(".f-bubble", has_text="楯岡地区")
    bubble.wait_for()
    assert bubble.locator(".f-span").all_inner_texts() == ["申請期限 ", "12月20日"]
    # Hero and icon: the picture, or (offline, as here) a labelled placeholder.
    assert bubble.locator("img, .img-missing").count() == 2
    assert bubble.locator(".f-separator").count() == 1
    assert bubble.locator(".f-filler").count() == 1
    assert page.get_by_role("heading", name="使い方").is_visible()
    tappable = bubble.get_by_role("button", name="詳細")
    tappable.focus()
    page.keyboard.press("Enter")
    page.locator(".row.bot", has_text="詳細: 中学生以下").wait_for()
    assert [m["via"] for m in sim.messages(user)] == ["reply", "push", "reply"]
    sim.assert_no_problems()
