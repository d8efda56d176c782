"""Every documented LINE limit is refused with 400 and the property path, and recorded."""

from __future__ import annotations

import json

import pytest
import requests

from linesim.client import SimClient
from linesim.validation import validate_messages
from tests.linesim.conftest import TOKEN

USER = "U" + "a" * 32


def text(value: str = "お知らせ", **extra) -> dict:
    """A text message object."""
    return {"type": "text", "text": value, **extra}


def quick(*actions) -> dict:
    """A quickReply object with these actions."""
    return {"items": [{"type": "action", "action": a} for a in actions]}


def postback(label="はい", data="x", **extra) -> dict:
    """A postback action."""
    return {"type": "postback", "label": label, "data": data, **extra}


def picker(**extra) -> dict:
    """A date picker action."""
    return {"type": "datetimepicker", "label": "生年月日", "data": "birth", "mode": "date", **extra}


def button(action: dict) -> dict:
    """A bubble whose footer holds one button with this action."""
    return {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": "本文"}],
        },
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "button", "action": action}],
        },
    }


def flex(contents: dict, alt: str = "お知らせ") -> dict:
    """A Flex message."""
    return {"type": "flex", "altText": alt, "contents": contents}


def padded_bubble(size: int) -> dict:
    """A bubble whose JSON is at least `size` bytes."""
    filler = {"type": "text", "text": "あ" * (size // 3), "wrap": True}
    return {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [filler]}}


def push(*messages) -> tuple[str, dict]:
    """A push request body."""
    return "/v2/bot/message/push", {"to": USER, "messages": list(messages)}


def menu(**changes) -> tuple[str, dict]:
    """A rich menu request body with changes."""
    body = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": "main",
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                "action": postback(label="登録"),
            }
        ],
    }
    body.update(changes)
    return "/v2/bot/richmenu", body


BUTTON_PATH = "messages[0].contents.footer.contents[0].action"
FAMILY = "👨\u200d👩\u200d👧"  # one grapheme cluster, five code points


def box_of(*components) -> dict:
    """A bubble whose body is a vertical box of these components."""
    return {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": list(components)},
    }


CASES = {
    "more than 5 messages": (push(*[text()] * 6), "messages"),
    "text over 5,000 UTF-16 units": (push(text("🍎" * 2500 + "a")), "messages[0].text"),
    "empty text": (push(text("")), "messages[0].text"),
    "unknown message type": (push({"type": "letter"}), "messages[0].type"),
    "14 quick replies": (
        push(text(quickReply=quick(*[postback()] * 14))),
        "messages[0].quickReply.items",
    ),
    "quick reply label over 20": (
        push(text(quickReply=quick(postback(label="あ" * 21)))),
        "messages[0].quickReply.items[0].action.label",
    ),
    "quick reply without label": (
        push(text(quickReply=quick({"type": "message", "text": "x"}))),
        "messages[0].quickReply.items[0].action.label",
    ),
    "multicast to 501": (
        ("/v2/bot/message/multicast", {"to": [USER] * 501, "messages": [text()]}),
        "to",
    ),
    "altText over 400": (push(flex(button(postback()), alt="あ" * 401)), "messages[0].altText"),
    "bubble over 30 KB": (push(flex(padded_bubble(31_000))), "messages[0].contents"),
    "carousel of 13 bubbles": (
        push(flex({"type": "carousel", "contents": [button(postback())] * 13})),
        "messages[0].contents.contents",
    ),
    "carousel over 50 KB": (
        push(flex({"type": "carousel", "contents": [padded_bubble(9_000)] * 6})),
        "messages[0].contents",
    ),
    "flex button label over 40": (
        push(flex(button(postback(label="あ" * 41)))),
        f"{BUTTON_PATH}.label",
    ),
    "postback data over 300": (push(flex(button(postback(data="x" * 301)))), f"{BUTTON_PATH}.data"),
    "uri over 10,000": (
        push(flex(button({"type": "uri", "label": "HP", "uri": "https://e.jp/" + "a" * 10_000}))),
        f"{BUTTON_PATH}.uri",
    ),
    "uri with ftp scheme": (
        push(flex(button({"type": "uri", "label": "HP", "uri": "ftp://e.jp"}))),
        f"{BUTTON_PATH}.uri",
    ),
    "picker initial not a date": (
        push(text(quickReply=quick(picker(initial="1990/01/01")))),
        "messages[0].quickReply.items[0].action.initial",
    ),
    "picker min before 1900": (
        push(text(quickReply=quick(picker(min="1899-12-31")))),
        "messages[0].quickReply.items[0].action.min",
    ),
    "picker initial after max": (
        push(text(quickReply=quick(picker(initial="2030-01-01", max="2026-12-31")))),
        "messages[0].quickReply.items[0].action.initial",
    ),
    "unknown flex component": (
        push(flex(box_of({"type": "texty", "text": "x"}))),
        "messages[0].contents.body.contents[0].type",
    ),
    "button style typo": (
        push(flex(box_of({"type": "button", "style": "primery", "action": postback()}))),
        "messages[0].contents.body.contents[0].style",
    ),
    "misspelt flex property": (
        push(flex(box_of({"type": "text", "text": "x", "colour": "#ff0000"}))),
        "messages[0].contents.body.contents[0].colour",
    ),
    "colour not hex": (
        push(flex(box_of({"type": "text", "text": "x", "color": "red"}))),
        "messages[0].contents.body.contents[0].color",
    ),
    "text size not a keyword": (
        push(flex(box_of({"type": "text", "text": "x", "size": "huge"}))),
        "messages[0].contents.body.contents[0].size",
    ),
    "bubble without blocks": (push(flex({"type": "bubble"})), "messages[0].contents"),
    "text as hero": (
        push(flex({"type": "bubble", "hero": {"type": "text", "text": "x"}})),
        "messages[0].contents.hero.type",
    ),
    "span outside a text": (
        push(flex(box_of({"type": "span", "text": "x"}))),
        "messages[0].contents.body.contents[0].type",
    ),
    "icon outside a baseline box": (
        push(flex(box_of({"type": "icon", "url": "https://e.jp/i.png"}))),
        "messages[0].contents.body.contents[0].type",
    ),
    "richmenuswitch in quick reply": (
        push(
            text(
                quickReply=quick(
                    {"type": "richmenuswitch", "label": "切替", "richMenuAliasId": "a", "data": "x"}
                )
            )
        ),
        "messages[0].quickReply.items[0].action.type",
    ),
    "quick reply item not an action": (
        push(text(quickReply={"items": [{"type": "button", "action": postback()}]})),
        "messages[0].quickReply.items[0].type",
    ),
    "javascript: uri": (
        push(flex(button({"type": "uri", "label": "HP", "uri": "javascript:alert(1)"}))),
        f"{BUTTON_PATH}.uri",
    ),
    "quick reply label of 21 emoji": (
        push(text(quickReply=quick(postback(label=FAMILY * 21)))),
        "messages[0].quickReply.items[0].action.label",
    ),
    "quick reply postback data over 300": (
        push(text(quickReply=quick(postback(data="x" * 301)))),
        "messages[0].quickReply.items[0].action.data",
    ),
    "picker min after max": (
        push(text(quickReply=quick(picker(min="2026-12-31", max="2026-01-01")))),
        "messages[0].quickReply.items[0].action.min",
    ),
    "rich menu chatBarText over 14": (menu(chatBarText="あ" * 15), "chatBarText"),
    "rich menu too narrow": (menu(size={"width": 700, "height": 843}), "size"),
    "rich menu label over 20": (
        menu(
            areas=[
                {
                    "bounds": {"x": 0, "y": 0, "width": 100, "height": 100},
                    "action": postback(label="あ" * 21),
                }
            ]
        ),
        "areas[0].action.label",
    ),
    "rich menu area outside": (
        menu(
            areas=[
                {"bounds": {"x": 2000, "y": 0, "width": 1000, "height": 843}, "action": postback()}
            ]
        ),
        "areas[0].bounds",
    ),
}


def call(url: str, path: str, body) -> requests.Response:
    """POST JSON with the channel's token."""
    return requests.post(
        url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_limit_is_refused_with_property_path(running, case):
    """LINE's limit → 400 "The request body has N error(s)" naming the property."""
    (path, body), prop = CASES[case]
    response = call(running.url, path, body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["message"] == f"The request body has {len(answer['details'])} error(s)"
    assert prop in [d["property"] for d in answer["details"]]


def test_just_within_limits_is_accepted(running, sim):
    """5,000 UTF-16 units, 13 quick replies and a 12-bubble carousel are fine."""
    user = sim.create_user("境界")
    sim.follow(user)
    messages = [
        text("🍎" * 2500, quickReply=quick(*[postback(label="あ" * 20)] * 13)),
        flex(
            {"type": "carousel", "contents": [button(postback(label="あ" * 40))] * 12},
            alt="あ" * 400,
        ),
        text(quickReply=quick(picker(initial="1990-01-01", min="1900-01-01", max="2026-12-31"))),
    ]
    response = call(running.url, "/v2/bot/message/push", {"to": user, "messages": messages})
    assert response.status_code == 200, response.text
    sim.assert_no_problems()


def test_problems_are_recorded_for_tests_to_fail_on(running, sim):
    """A refused request shows in /_sim/requests with its problems; assert_no_problems raises."""
    call(running.url, *push(text("")))
    [record] = sim.problems()
    assert record["status"] == 400
    assert record["problems"][0]["property"] == "messages[0].text"
    with pytest.raises(AssertionError):
        SimClient(running.url).assert_no_problems()


def test_body_over_2_mb_is_413(running):
    """LINE refuses request bodies over 2 MB with 413."""
    response = call(running.url, *push(text("a" * (2 * 1024 * 1024 + 10))))
    assert response.status_code == 413


def test_labels_count_grapheme_clusters_not_code_points(running):
    """A 20-character label made of family emoji (ZWJ sequences) is within LINE's limit."""
    response = call(
        running.url,
        "/v2/bot/message/validate/push",
        {"messages": [text(quickReply=quick(postback(label=FAMILY * 20)))]},
    )
    assert (response.status_code, response.json()) == (200, {})


def test_every_flex_component_the_bot_may_use_is_accepted(running):
    """box, text with spans, baseline icon, button, separator, filler, image: all valid."""
    bubble = {
        "type": "bubble",
        "hero": {"type": "image", "url": "https://e.jp/a.png", "size": "full"},
        "body": {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {
                    "type": "text",
                    "contents": [
                        {"type": "span", "text": "期限 "},
                        {"type": "span", "text": "12月20日", "weight": "bold", "color": "#D00000"},
                    ],
                },
                {
                    "type": "box",
                    "layout": "baseline",
                    "contents": [
                        {"type": "icon", "url": "https://e.jp/i.png"},
                        {"type": "text", "text": "楯岡", "size": "12px"},
                    ],
                },
                {"type": "separator", "margin": "md"},
                {
                    "type": "box",
                    "layout": "horizontal",
                    "contents": [],
                    "backgroundColor": "#EEEEEE",
                    "height": "4px",
                },
                {
                    "type": "box",
                    "layout": "horizontal",
                    "contents": [{"type": "filler"}, {"type": "text", "text": "右寄せ", "flex": 0}],
                },
            ],
        },
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {"type": "button", "style": "primary", "height": "sm", "action": postback()}
            ],
        },
        "styles": {"footer": {"separator": True}},
    }
    response = call(running.url, "/v2/bot/message/validate/push", {"messages": [flex(bubble)]})
    assert (response.status_code, response.json()) == (200, {})


def sized_bubble(size: int) -> dict:
    """A bubble whose compact UTF-8 JSON is exactly `size` bytes."""
    bubble = box_of({"type": "text", "text": ""})
    base = len(json.dumps(bubble, ensure_ascii=False, separators=(",", ":")).encode())
    bubble["body"]["contents"][0]["text"] = "a" * (size - base)
    return bubble


def test_bubble_size_is_counted_in_bytes_of_minified_json(running):
    """30,000 bytes of compact UTF-8 JSON is accepted; one byte more is refused."""
    url = "/v2/bot/message/validate/push"
    at_limit = call(running.url, url, {"messages": [flex(sized_bubble(30_000))]})
    over = call(running.url, url, {"messages": [flex(sized_bubble(30_001))]})
    assert at_limit.status_code == 200, at_limit.text
    assert over.status_code == 400
    assert over.json()["details"][0]["message"] == "bubble JSON must be at most 30KB"


def test_validate_messages_alone_also_applies_the_sdk_models():
    """Message builders checked without a request still meet the SDK's own model checks."""
    problems = validate_messages([{"type": "text", "text": "x", "emojis": "not a list"}])
    assert problems and problems[0].property.startswith("messages[0]")
