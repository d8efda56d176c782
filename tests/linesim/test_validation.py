"""Every documented LINE limit is refused with 400 and the property path, and recorded."""

from __future__ import annotations

import pytest
import requests

from linesim.client import SimClient
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
    return {"type": "bubble", "body": {"type": "box", "layout": "vertical",
                                       "contents": [{"type": "text", "text": "本文"}]},
            "footer": {"type": "box", "layout": "vertical",
                       "contents": [{"type": "button", "action": action}]}}


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
    body = {"size": {"width": 2500, "height": 843}, "selected": False, "name": "main",
            "chatBarText": "メニュー", "areas": [{
                "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                "action": postback(label="登録")}]}
    body.update(changes)
    return "/v2/bot/richmenu", body


BUTTON_PATH = "messages[0].contents.footer.contents[0].action"
CASES = {
    "more than 5 messages": (push(*[text()] * 6), "messages"),
    "text over 5,000 UTF-16 units": (push(text("🍎" * 2500 + "a")), "messages[0].text"),
    "empty text": (push(text("")), "messages[0].text"),
    "unknown message type": (push({"type": "letter"}), "messages[0].type"),
    "14 quick replies": (push(text(quickReply=quick(*[postback()] * 14))),
                         "messages[0].quickReply.items"),
    "quick reply label over 20": (push(text(quickReply=quick(postback(label="あ" * 21)))),
                                  "messages[0].quickReply.items[0].action.label"),
    "quick reply without label": (push(text(quickReply=quick({"type": "message", "text": "x"}))),
                                  "messages[0].quickReply.items[0].action.label"),
    "multicast to 501": (("/v2/bot/message/multicast",
                          {"to": [USER] * 501, "messages": [text()]}), "to"),
    "altText over 400": (push(flex(button(postback()), alt="あ" * 401)), "messages[0].altText"),
    "bubble over 30 KB": (push(flex(padded_bubble(31_000))), "messages[0].contents"),
    "carousel of 13 bubbles": (push(flex({"type": "carousel",
                                          "contents": [button(postback())] * 13})),
                               "messages[0].contents.contents"),
    "carousel over 50 KB": (push(flex({"type": "carousel",
                                       "contents": [padded_bubble(9_000)] * 6})),
                            "messages[0].contents"),
    "flex button label over 40": (push(flex(button(postback(label="あ" * 41)))),
                                  f"{BUTTON_PATH}.label"),
    "postback data over 300": (push(flex(button(postback(data="x" * 301)))),
                               f"{BUTTON_PATH}.data"),
    "uri over 10,000": (push(flex(button({"type": "uri", "label": "HP",
                                          "uri": "https://e.jp/" + "a" * 10_000}))),
                        f"{BUTTON_PATH}.uri"),
    "uri with ftp scheme": (push(flex(button({"type": "uri", "label": "HP", "uri": "ftp://e.jp"}))),
                            f"{BUTTON_PATH}.uri"),
    "picker initial not a date": (push(text(quickReply=quick(picker(initial="1990/01/01")))),
                                  "messages[0].quickReply.items[0].action.initial"),
    "picker min before 1900": (push(text(quickReply=quick(picker(min="1899-12-31")))),
                               "messages[0].quickReply.items[0].action.min"),
    "picker initial after max": (push(text(quickReply=quick(
        picker(initial="2030-01-01", max="2026-12-31")))),
        "messages[0].quickReply.items[0].action.initial"),
    "rich menu chatBarText over 14": (menu(chatBarText="あ" * 15), "chatBarText"),
    "rich menu too narrow": (menu(size={"width": 700, "height": 843}), "size"),
    "rich menu label over 20": (menu(areas=[{
        "bounds": {"x": 0, "y": 0, "width": 100, "height": 100},
        "action": postback(label="あ" * 21)}]), "areas[0].action.label"),
    "rich menu area outside": (menu(areas=[{
        "bounds": {"x": 2000, "y": 0, "width": 1000, "height": 843},
        "action": postback()}]), "areas[0].bounds"),
}


def call(url: str, path: str, body) -> requests.Response:
    """POST JSON with the channel's token."""
    return requests.post(url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=10)


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
    messages = [text("🍎" * 2500, quickReply=quick(*[postback(label="あ" * 20)] * 13)),
                flex({"type": "carousel", "contents": [button(postback(label="あ" * 40))] * 12},
                     alt="あ" * 400),
                text(quickReply=quick(picker(initial="1990-01-01", min="1900-01-01",
                                             max="2026-12-31")))]
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
