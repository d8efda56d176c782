"""Counting user-perceived characters (grapheme clusters), as LINE counts labels.

A compact approximation of Unicode's extended grapheme clusters (UAX #29) that covers
what a municipal bot sends: combining marks (が written as か + ゛), variation selectors,
emoji skin tones, ZWJ sequences (👨‍👩‍👧), flags (🇯🇵) and keycaps (1️⃣). The standard
library has no segmenter and the project adds no dependency for this.
"""

from __future__ import annotations

import unicodedata

ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """True for a character that never starts a cluster of its own."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch == ZWJ
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences (subdivision flags)
        or 0x1160 <= cp <= 0x11FF  # Hangul medial vowels and final consonants
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def grapheme_count(text: str) -> int:
    """Number of grapheme clusters in `text`."""
    count = 0
    previous = ""
    pending_flag = False  # an odd regional indicator waits for its pair
    for ch in text:
        if previous and (_extends(ch) or previous == ZWJ or (previous, ch) == ("\r", "\n")):
            previous = ch
            continue
        if _regional(ch) and pending_flag:
            pending_flag = False
            previous = ch
            continue
        pending_flag = _regional(ch)
        count += 1
        previous = ch
    return count
