"""Flex Message containers and components: LINE's structure, size and nesting limits."""

from __future__ import annotations

import json

from linesim.actions import Problem, check_length, validate_action
from linesim.flex_props import check_props

# LINE says "30 KB" / "50 KB" without saying which kilobyte; the decimal reading
# is the stricter one, so a notice that passes here also passes on LINE.
BUBBLE_MAX_BYTES = 30_000
CAROUSEL_MAX_BYTES = 50_000
CAROUSEL_MAX_BUBBLES = 12
BUTTON_LABEL_MAX = 40
COMPONENTS = ("box", "button", "image", "video", "icon", "text", "span", "separator", "filler")
# Which components each parent may hold (Messaging API reference, "Flex Message"):
# a baseline box lines text up with icons; spans live only inside a text.
CHILDREN = {
    "vertical": ("box", "button", "image", "text", "separator", "filler"),
    "horizontal": ("box", "button", "image", "text", "separator", "filler"),
    "baseline": ("icon", "text", "filler"),
    "text": ("span",),
}
BLOCKS = {
    "header": ("box",),
    "hero": ("box", "image", "video"),
    "body": ("box",),
    "footer": ("box",),
}


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
    problems = check_props(container, "carousel", path)
    bubbles = container.get("contents")
    if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= CAROUSEL_MAX_BUBBLES:
        problems.append(
            Problem(f"{path}.contents", f"Size must be between 1 and {CAROUSEL_MAX_BUBBLES}")
        )
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
    problems = check_props(bubble, "bubble", path)
    if json_size(bubble) > BUBBLE_MAX_BYTES:
        problems.append(Problem(path, "bubble JSON must be at most 30KB"))
    if not any(block in bubble for block in BLOCKS):
        # An empty bubble would show as a blank balloon; LINE needs at least one block.
        problems.append(
            Problem(path, "at least one block (header, hero, body or footer) must be specified")
        )
    for block, allowed in BLOCKS.items():
        if block in bubble:
            problems += validate_component(bubble[block], f"{path}.{block}", allowed)
    styles = bubble.get("styles")
    if isinstance(styles, dict):
        problems += check_props(styles, "styles", f"{path}.styles")
        for block, style in styles.items():
            if isinstance(style, dict):
                problems += check_props(style, "block_style", f"{path}.styles.{block}")
    if "action" in bubble:
        problems += _action(bubble["action"], f"{path}.action")
    return problems


def _action(action, path: str) -> list[Problem]:
    return validate_action(action, path, label_max=BUTTON_LABEL_MAX, label_required=False)


def validate_component(
    component, path: str, allowed: tuple[str, ...] = COMPONENTS
) -> list[Problem]:
    """Problems with a component (one of `allowed` where it sits) and its children."""
    if not isinstance(component, dict):
        return [Problem(path, "must be an object")]
    kind = component.get("type")
    if kind not in allowed:
        return [Problem(f"{path}.type", f"must be one of [{', '.join(allowed)}]")]
    problems = check_props(component, kind, path)
    if kind == "box":
        problems += _box(component, path)
    elif kind == "button":
        action = component.get("action")
        if action is None:
            problems.append(Problem(f"{path}.action", "must be specified"))
        else:
            problems += validate_action(
                action, f"{path}.action", label_max=BUTTON_LABEL_MAX, label_required=True
            )
    elif kind == "text":
        problems += _text(component, path)
    elif kind == "span":
        if not isinstance(component.get("text"), str):
            problems.append(Problem(f"{path}.text", "must be specified"))
    elif kind in ("image", "icon"):
        check_image_url(problems, f"{path}.url", component.get("url"))
    elif kind == "video":
        check_image_url(problems, f"{path}.url", component.get("url"))
        check_image_url(problems, f"{path}.previewUrl", component.get("previewUrl"))
    if kind != "button" and "action" in component:
        problems += _action(component["action"], f"{path}.action")
    return problems


def _text(text: dict, path: str) -> list[Problem]:
    problems: list[Problem] = []
    spans = text.get("contents")
    if text.get("text") is None and not spans:
        problems.append(Problem(f"{path}.text", "must be specified"))
    if spans is not None and not isinstance(spans, list):
        return [*problems, Problem(f"{path}.contents", "must be an array")]
    for i, span in enumerate(spans or []):
        problems += validate_component(span, f"{path}.contents[{i}]", CHILDREN["text"])
    return problems


def check_image_url(problems, path: str, url) -> None:
    """Image URLs: required, HTTPS only, ≤2,000 characters."""
    check_length(problems, path, url, 2000, required=True, minimum=1)
    if isinstance(url, str) and url and not url.startswith("https://"):
        problems.append(Problem(path, "must be an HTTPS URL"))


def _box(box: dict, path: str) -> list[Problem]:
    problems: list[Problem] = []
    layout = box.get("layout")
    if layout is None:
        problems.append(Problem(f"{path}.layout", "must be specified"))
    background = box.get("background")
    if isinstance(background, dict):
        problems += check_props(background, "linearGradient", f"{path}.background")
    contents = box.get("contents")
    if not isinstance(contents, list):
        problems.append(Problem(f"{path}.contents", "must be specified"))
        return problems
    # An empty box is allowed: LINE's own samples use one as a coloured bar.
    children = CHILDREN.get(layout, COMPONENTS)
    for i, child in enumerate(contents):
        problems += validate_component(child, f"{path}.contents[{i}]", children)
    return problems
