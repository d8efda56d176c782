"""Flex Message containers and components: LINE's size and nesting limits."""

from __future__ import annotations

import json

from linesim.actions import Problem, check_length, validate_action

# LINE says "30 KB" / "50 KB" without saying which kilobyte; the decimal reading
# is the stricter one, so a notice that passes here also passes on LINE.
BUBBLE_MAX_BYTES = 30_000
CAROUSEL_MAX_BYTES = 50_000
CAROUSEL_MAX_BUBBLES = 12
BUTTON_LABEL_MAX = 40
LAYOUTS = ("horizontal", "vertical", "baseline")
COMPONENTS = ("box", "button", "image", "video", "icon", "text", "span", "separator",
              "filler", "spacer")
BLOCKS = ("header", "hero", "body", "footer")


def json_size(value) -> int:
    """Bytes of the compact UTF-8 JSON encoding, how the object travels to LINE."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def validate_container(container, path: str) -> list[Problem]:
    """Problems with a Flex container (bubble or carousel)."""
    if not isinstance(container, dict):
        return [Problem(path, "must be specified")]
    kind = container.get("type")
    if kind == "bubble":
        return validate_bubble(container, path)
    if kind != "carousel":
        return [Problem(f"{path}.type", "must be one of [bubble, carousel]")]
    problems: list[Problem] = []
    bubbles = container.get("contents")
    if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= CAROUSEL_MAX_BUBBLES:
        problems.append(Problem(f"{path}.contents",
                                f"Size must be between 1 and {CAROUSEL_MAX_BUBBLES}"))
        bubbles = bubbles if isinstance(bubbles, list) else []
    if json_size(container) > CAROUSEL_MAX_BYTES:
        problems.append(Problem(path, "carousel JSON must be at most 50KB"))
    for i, bubble in enumerate(bubbles):
        problems += validate_bubble(bubble, f"{path}.contents[{i}]")
    sizes = {b.get("size", "mega") for b in bubbles if isinstance(b, dict)}
    if len(sizes) > 1:
        problems.append(Problem(f"{path}.contents", "all bubbles must have the same size"))
    return problems


def validate_bubble(bubble, path: str) -> list[Problem]:
    """Problems with one bubble: its size, blocks and every component inside."""
    if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
        return [Problem(f"{path}.type", "must be bubble")]
    problems: list[Problem] = []
    if json_size(bubble) > BUBBLE_MAX_BYTES:
        problems.append(Problem(path, "bubble JSON must be at most 30KB"))
    for block in BLOCKS:
        if block in bubble:
            problems += validate_component(bubble[block], f"{path}.{block}")
    if "action" in bubble:
        problems += _action(bubble["action"], f"{path}.action")
    return problems


def _action(action, path: str) -> list[Problem]:
    return validate_action(action, path, label_max=BUTTON_LABEL_MAX, label_required=False)


def validate_component(component, path: str) -> list[Problem]:
    """Problems with a component and, for boxes, its children."""
    if not isinstance(component, dict):
        return [Problem(path, "must be an object")]
    kind = component.get("type")
    if kind not in COMPONENTS:
        return [Problem(f"{path}.type", f"must be one of [{', '.join(COMPONENTS)}]")]
    problems: list[Problem] = []
    if kind == "box":
        problems += _box(component, path)
    elif kind == "button":
        action = component.get("action")
        if action is None:
            problems.append(Problem(f"{path}.action", "must be specified"))
        else:
            problems += validate_action(action, f"{path}.action",
                                        label_max=BUTTON_LABEL_MAX, label_required=True)
    elif kind == "text":
        if component.get("text") is None and not component.get("contents"):
            problems.append(Problem(f"{path}.text", "must be specified"))
        for i, span in enumerate(component.get("contents") or []):
            problems += validate_component(span, f"{path}.contents[{i}]")
    elif kind in ("image", "icon"):
        check_image_url(problems, f"{path}.url", component.get("url"))
    if kind != "button" and "action" in component:
        problems += _action(component["action"], f"{path}.action")
    return problems


def check_image_url(problems, path: str, url) -> None:
    """Image URLs: required, HTTPS only, ≤2,000 characters."""
    check_length(problems, path, url, 2000, required=True, minimum=1)
    if isinstance(url, str) and url and not url.startswith("https://"):
        problems.append(Problem(path, "must be an HTTPS URL"))


def _box(box: dict, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if box.get("layout") not in LAYOUTS:
        problems.append(Problem(f"{path}.layout", f"must be one of [{', '.join(LAYOUTS)}]"))
    contents = box.get("contents")
    if not isinstance(contents, list):
        problems.append(Problem(f"{path}.contents", "must be specified"))
        return problems
    for i, child in enumerate(contents):
        problems += validate_component(child, f"{path}.contents[{i}]")
    return problems
