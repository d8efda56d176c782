"""Notices and cards people can read: the resident's font size applies to every Flex text
and button (`scaling: true`), and every colour pair the messages use meets WCAG 2.1 AA
(contrast at least 4.5:1), computed from the built Flex JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from bot.config import load_config
from linesim.validation import validate_messages
from messages import (
    CityContact,
    NoticeLinks,
    build_notice,
    build_program_list,
    build_review,
)
from segments import Profile
from tests.conftest import SAMPLE_CONFIG

AA = 4.5
TODAY = dt.date(2026, 11, 22)
# What LINE draws when a component sets no colour (Flex Message reference).
DEFAULT_TEXT = "#111111"
DEFAULT_BUTTON = {"primary": "#17c950", "secondary": "#dcdfe5", "link": "#42659a"}
BUTTON_TEXT = {"primary": "#ffffff", "secondary": "#111111"}


def luminance(colour: str) -> float:
    """Relative luminance (WCAG 2.1) of #rrggbb."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    assert contrast("#ffffff", "#17c950") < 2.3  # LINE's default primary button: fails
    assert contrast("#888888", "#ffffff") < 3.6  # the old hint colour: fails


def pairs(node, background: str = "#ffffff", path: str = "") -> Iterator[tuple]:
    """(path, kind, foreground, background, scaling) of every text and button."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from pairs(item, background, f"{path}[{i}]")
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    background = node.get("backgroundColor", background)
    if kind == "text":
        yield path, "text", node.get("color", DEFAULT_TEXT), background, node.get("scaling")
    elif kind == "button":
        style = node.get("style", "link")
        colour = node.get("color", DEFAULT_BUTTON[style])
        if style == "link":
            yield path, "button", colour, background, node.get("scaling")
        else:
            yield path, "button", BUTTON_TEXT[style], colour, node.get("scaling")
    for key, value in node.items():
        if key != "action":
            yield from pairs(value, background, f"{path}.{key}")


def every_flex() -> list[dict]:
    """Every Flex message the bot builds, from the sample configuration."""
    config = load_config(SAMPLE_CONFIG)
    city = CityContact("村山市", "0237-55-2111", "市役所1階 総合案内")
    links = NoticeLinks("https://www.city.murayama.lg.jp/a", "https://logoform.jp/b")
    built = []
    for program in config.programs:
        built.append(build_notice(program, "締切が近づいています。", links, TODAY, city))
        built.append(build_notice(program, None, NoticeLinks(program.homepage), TODAY))
    built += build_program_list(
        list(config.programs),
        TODAY,
        "https://www.city.murayama.lg.jp/",
        skipped_some=True,
        city=city,
        topics=["高齢者"],
    )
    profile = Profile(
        birth_date=dt.date(1948, 5, 3),
        district="楯岡",
        household_size=1,
        children=(),
        interests=frozenset({"高齢者"}),
    )
    built.append(
        build_review(
            profile,
            ("birth_date", "district", "household_size", "children", "interests"),
            paused=True,
        )
    )
    bodies = [m.to_dict() for m in built]
    assert validate_messages(bodies[:5]) == []  # linesim (LINE's rules) accepts them
    for i in range(5, len(bodies), 5):
        assert validate_messages(bodies[i : i + 5]) == []
    return [b for b in bodies if b["type"] == "flex"]


def test_every_flex_text_and_button_follows_the_font_size_setting():
    found = [
        (path, kind)
        for flex in every_flex()
        for path, kind, _, _, scaling in pairs(flex["contents"])
        if scaling is not True
    ]
    assert found == []


def test_every_colour_pair_meets_wcag_aa():
    seen: dict[tuple[str, str], str] = {}
    for flex in every_flex():
        for path, _, fg, bg, _ in pairs(flex["contents"]):
            seen.setdefault((fg.lower(), bg.lower()), path)
    assert len(seen) >= 5  # texts in several colours, and the three button styles
    failing = {pair: round(contrast(*pair), 2) for pair in seen if contrast(*pair) < AA}
    assert failing == {}
