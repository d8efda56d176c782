"""Request validation as LINE does it: the SDK's own models plus the documented limits.

Each check returns a list of `Problem`s (never raises), so a bad request is refused
with every problem listed, and the list is kept in the request log for tests.
"""

from __future__ import annotations

import re

from linebot.v3.messaging import (
    BroadcastRequest,
    Message,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
    ValidateMessageRequest,
)

from linesim.actions import Problem, check_length, validate_action
from linesim.flex import check_image_url, validate_container

USER_ID = re.compile(r"^U[0-9a-f]{32}$")
MAX_MESSAGES = 5
MAX_QUICK_REPLY = 13
MAX_MULTICAST = 500
TEXT_MAX = 5000
ALT_TEXT_MAX = 400
MESSAGE_TYPES = (
    "text",
    "textV2",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
    "coupon",
)
QUICK_REPLY_ACTIONS = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "clipboard",
)
SDK_MODELS = {
    "reply": ReplyMessageRequest,
    "push": PushMessageRequest,
    "multicast": MulticastRequest,
    "broadcast": BroadcastRequest,
    "narrowcast": NarrowcastRequest,
    "validate": ValidateMessageRequest,
    "richmenu": RichMenuRequest,
    "message": Message,
}


def validate_send(kind: str, body) -> list[Problem]:
    """Problems with a reply/push/multicast/broadcast/narrowcast/validate request body."""
    if not isinstance(body, dict):
        return [Problem("", "The request body must be a JSON object")]
    problems: list[Problem] = []
    if kind == "reply":
        check_length(problems, "replyToken", body.get("replyToken"), 100, required=True)
    elif kind == "push":
        check_length(problems, "to", body.get("to"), 100, required=True, minimum=1)
    elif kind == "multicast":
        problems += _recipients(body.get("to"))
    problems += validate_messages(body.get("messages"))
    return problems or sdk_problems(kind, body)


def _recipients(to) -> list[Problem]:
    if not isinstance(to, list) or not 1 <= len(to) <= MAX_MULTICAST:
        return [Problem("to", f"Size must be between 1 and {MAX_MULTICAST}")]
    return [
        Problem(f"to[{i}]", "invalid user ID")
        for i, uid in enumerate(to)
        if not isinstance(uid, str) or not USER_ID.match(uid)
    ]


def validate_messages(messages, path: str = "messages") -> list[Problem]:
    """Problems with a `messages` array: 1–5 message objects, each within LINE's limits."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [Problem(path, f"Size must be between 1 and {MAX_MESSAGES}")]
    problems: list[Problem] = []
    for i, message in enumerate(messages):
        problems += validate_message(message, f"{path}[{i}]")
    return problems


def validate_message(message, path: str) -> list[Problem]:
    """Problems with one message object."""
    if not isinstance(message, dict):
        return [Problem(path, "must be an object")]
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        return [Problem(f"{path}.type", f"must be one of [{', '.join(MESSAGE_TYPES)}]")]
    problems: list[Problem] = []
    if kind in ("text", "textV2"):
        check_length(
            problems,
            f"{path}.text",
            message.get("text"),
            TEXT_MAX,
            required=True,
            minimum=1,
            utf16=True,
        )
    elif kind == "sticker":
        for key in ("packageId", "stickerId"):
            check_length(problems, f"{path}.{key}", message.get(key), 100, required=True)
    elif kind in ("image", "video"):
        for key in ("originalContentUrl", "previewImageUrl"):
            check_image_url(problems, f"{path}.{key}", message.get(key))
    elif kind in ("flex", "template"):
        check_length(
            problems,
            f"{path}.altText",
            message.get("altText"),
            ALT_TEXT_MAX,
            required=True,
            minimum=1,
        )
        if kind == "flex":
            problems += validate_container(message.get("contents"), f"{path}.contents")
        else:
            problems += _template(message.get("template"), f"{path}.template")
    if "quickReply" in message:
        problems += _quick_reply(message["quickReply"], f"{path}.quickReply")
    sender = message.get("sender")
    if isinstance(sender, dict):
        check_length(problems, f"{path}.sender.name", sender.get("name"), 20)
        if "line" in str(sender.get("name") or "").lower():
            problems.append(Problem(f"{path}.sender.name", "must not contain 'LINE'"))
    # The SDK's own model catches what the walk above does not know; `validate_messages`
    # alone (used to check message builders without a request) gets its checks too.
    return problems or sdk_problems("message", message, path)


def _quick_reply(quick, path: str) -> list[Problem]:
    items = quick.get("items") if isinstance(quick, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLY:
        return [Problem(f"{path}.items", f"Size must be between 1 and {MAX_QUICK_REPLY}")]
    problems: list[Problem] = []
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("type") != "action":
            problems.append(Problem(f"{path}.items[{i}].type", "must be action"))
        action = item.get("action") if isinstance(item, dict) else None
        problems += validate_action(
            action,
            f"{path}.items[{i}].action",
            label_max=20,
            label_required=True,
            allowed=QUICK_REPLY_ACTIONS,
        )
    return problems


TEMPLATE_LIMITS = {  # type: (max actions, text max, actions required exactly)
    "buttons": (4, 160, False),
    "confirm": (2, 240, True),
}


def _template(template, path: str) -> list[Problem]:
    if not isinstance(template, dict):
        return [Problem(path, "must be specified")]
    kind = template.get("type")
    problems: list[Problem] = []
    if kind in TEMPLATE_LIMITS:
        most, text_max, exact = TEMPLATE_LIMITS[kind]
        if kind == "buttons" and (template.get("title") or template.get("thumbnailImageUrl")):
            text_max = 60  # LINE's limit shrinks when an image or title is shown
        check_length(problems, f"{path}.text", template.get("text"), text_max, required=True)
        check_length(problems, f"{path}.title", template.get("title"), 40)
        problems += _template_actions(template.get("actions"), f"{path}.actions", most, exact)
    elif kind in ("carousel", "image_carousel"):
        columns = template.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= 10:
            return [Problem(f"{path}.columns", "Size must be between 1 and 10")]
        for i, column in enumerate(columns):
            col_path = f"{path}.columns[{i}]"
            if kind == "carousel":
                problems += _template_actions(column.get("actions"), f"{col_path}.actions", 3)
            else:
                problems += validate_action(
                    column.get("action"), f"{col_path}.action", label_max=12, label_required=False
                )
    else:
        problems.append(
            Problem(f"{path}.type", "must be one of [buttons, confirm, carousel, image_carousel]")
        )
    return problems


def _template_actions(actions, path: str, most: int, exact: bool = False) -> list[Problem]:
    low = most if exact else 1
    if not isinstance(actions, list) or not low <= len(actions) <= most:
        return [Problem(path, f"Size must be between {low} and {most}")]
    problems: list[Problem] = []
    for i, action in enumerate(actions):
        problems += validate_action(action, f"{path}[{i}]", label_max=20, label_required=True)
    return problems


def validate_rich_menu(body) -> list[Problem]:
    """Problems with a rich menu object: size, name, chatBarText, areas and actions."""
    if not isinstance(body, dict):
        return [Problem("", "The request body must be a JSON object")]
    problems: list[Problem] = []
    size = body.get("size") if isinstance(body.get("size"), dict) else {}
    width, height = size.get("width"), size.get("height")
    if not (
        isinstance(width, int)
        and isinstance(height, int)
        and 800 <= width <= 2500
        and height >= 250
        and width / height >= 1.45
    ):
        problems.append(Problem("size", "width 800-2500, height ≥250, width/height ≥1.45"))
        width = height = None
    if not isinstance(body.get("selected"), bool):
        problems.append(Problem("selected", "must be specified"))
    check_length(problems, "name", body.get("name"), 300, required=True, minimum=1)
    check_length(problems, "chatBarText", body.get("chatBarText"), 14, required=True, minimum=1)
    areas = body.get("areas")
    if not isinstance(areas, list) or len(areas) > 20:
        return [*problems, Problem("areas", "Size must be between 0 and 20")]
    for i, area in enumerate(areas):
        problems += _area(area, f"areas[{i}]", width, height)
    return problems or sdk_problems("richmenu", body)


def _area(area, path: str, width, height) -> list[Problem]:
    if not isinstance(area, dict):
        return [Problem(path, "must be an object")]
    problems = validate_action(
        area.get("action"), f"{path}.action", label_max=20, label_required=False
    )
    b = area.get("bounds") if isinstance(area.get("bounds"), dict) else {}
    values = [b.get(k) for k in ("x", "y", "width", "height")]
    if not all(isinstance(v, int) and v >= 0 for v in values):
        return [*problems, Problem(f"{path}.bounds", "must be specified")]
    x, y, w, h = values
    if width is not None and (x + w > width or y + h > height):
        problems.append(Problem(f"{path}.bounds", "must be inside the rich menu size"))
    return problems


def sdk_problems(kind: str, body: dict, path: str = "") -> list[Problem]:
    """Deserialize with the SDK's model; anything it refuses is a problem too."""
    try:
        SDK_MODELS[kind].from_dict(body)
    except (ValueError, TypeError) as exc:  # pydantic.v1.ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        if callable(errors):
            # The SDK validates nested models on their own, so `loc` is relative to the
            # innermost model; our own walker above gives full paths for LINE's limits.
            return [
                Problem(".".join([path, *(str(p) for p in e["loc"])]).lstrip("."), e["msg"])
                for e in errors()
            ]
        return [Problem(path, str(exc).splitlines()[0][:300])]
    return []
