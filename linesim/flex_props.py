"""Flex properties: unknown keys, enum values and colours, reported with full paths.

The SDK's models would refuse a bad enum too, but they validate nested objects on their
own, so their error names only the last key ("style"); these checks name the whole path
("messages[0].contents.footer.contents[0].style") so a failing test points at the bug.
LINE itself answers "unknown field" for a property it does not know
(line/line-bot-sdk-python#111), so a typo such as "colour" or "bodyy" is refused too.
"""

from __future__ import annotations

import re
from functools import cache

from linebot.v3.messaging import (
    FlexBlockStyle,
    FlexBox,
    FlexBoxLinearGradient,
    FlexBubble,
    FlexBubbleStyles,
    FlexButton,
    FlexCarousel,
    FlexFiller,
    FlexIcon,
    FlexImage,
    FlexSeparator,
    FlexSpan,
    FlexText,
    FlexVideo,
)

from linesim.actions import Problem

MODELS = {
    "bubble": FlexBubble,
    "carousel": FlexCarousel,
    "box": FlexBox,
    "text": FlexText,
    "span": FlexSpan,
    "button": FlexButton,
    "image": FlexImage,
    "icon": FlexIcon,
    "separator": FlexSeparator,
    "filler": FlexFiller,
    "video": FlexVideo,
    "styles": FlexBubbleStyles,
    "block_style": FlexBlockStyle,
    "linearGradient": FlexBoxLinearGradient,
}
KEYWORD_SIZES = ("xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl")
SPACINGS = ("none", "xs", "sm", "md", "lg", "xl", "xxl")
PIXELS = re.compile(r"^\d+(\.\d+)?px$")
PERCENT_OR_PIXELS = re.compile(r"^\d+(\.\d+)?(px|%)$")
COLOR = re.compile(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
COLOR_KEYS = (
    "color",
    "backgroundColor",
    "borderColor",
    "separatorColor",
    "startColor",
    "endColor",
    "centerColor",
)
ENUMS = {  # (component type or "*", property): allowed values
    ("*", "gravity"): ("top", "bottom", "center"),
    ("*", "align"): ("start", "end", "center"),
    ("*", "position"): ("relative", "absolute"),
    ("text", "weight"): ("regular", "bold"),
    ("span", "weight"): ("regular", "bold"),
    ("text", "style"): ("normal", "italic"),
    ("span", "style"): ("normal", "italic"),
    ("text", "decoration"): ("none", "underline", "line-through"),
    ("span", "decoration"): ("none", "underline", "line-through"),
    ("text", "adjustMode"): ("shrink-to-fit",),
    ("button", "adjustMode"): ("shrink-to-fit",),
    ("button", "style"): ("primary", "secondary", "link"),
    ("button", "height"): ("sm", "md"),
    ("box", "layout"): ("horizontal", "vertical", "baseline"),
    ("box", "justifyContent"): (
        "center",
        "flex-start",
        "flex-end",
        "space-between",
        "space-around",
        "space-evenly",
    ),
    ("box", "alignItems"): ("center", "flex-start", "flex-end"),
    ("image", "aspectMode"): ("cover", "fit"),
    ("bubble", "size"): ("nano", "micro", "deca", "hecto", "kilo", "mega", "giga"),
    ("bubble", "direction"): ("ltr", "rtl"),
}
SIZES = {  # property: (keywords, pattern for explicit values)
    ("text", "size"): (KEYWORD_SIZES, PIXELS),
    ("span", "size"): (KEYWORD_SIZES, PIXELS),
    ("icon", "size"): (KEYWORD_SIZES, PIXELS),
    ("image", "size"): ((*KEYWORD_SIZES, "full"), PERCENT_OR_PIXELS),
    ("*", "margin"): (SPACINGS, PIXELS),
    ("box", "spacing"): (SPACINGS, PIXELS),
}


@cache
def known_keys(kind: str) -> frozenset[str]:
    """The JSON property names LINE (and the SDK) define for this Flex object."""
    return frozenset(f.alias for f in MODELS[kind].__fields__.values())


def check_props(obj: dict, kind: str, path: str) -> list[Problem]:
    """Unknown keys, enum values, sizes and colours of one Flex object."""
    problems = [
        Problem(f"{path}.{key}", "unknown field")
        for key in obj
        if kind in MODELS and key not in known_keys(kind)
    ]
    for key, value in obj.items():
        allowed = ENUMS.get((kind, key)) or ENUMS.get(("*", key))
        if allowed and value not in allowed:
            problems.append(Problem(f"{path}.{key}", f"must be one of [{', '.join(allowed)}]"))
        sizes = SIZES.get((kind, key)) or SIZES.get(("*", key))
        if sizes and not (value in sizes[0] or (isinstance(value, str) and sizes[1].match(value))):
            problems.append(
                Problem(f"{path}.{key}", f"must be one of [{', '.join(sizes[0])}] or a length")
            )
        if key in COLOR_KEYS and not (isinstance(value, str) and COLOR.match(value)):
            problems.append(Problem(f"{path}.{key}", "must be a hex color (#RRGGBB[AA])"))
    return problems
