"""The languages residents can read Todoku in, and how a LINE profile's language maps to one.

Codes are stored in `residents.language` and name the catalogue files
(messages/catalogue/<code>.po). `ja-easy` is やさしい日本語 (easy Japanese): a private-use
style tag, since BCP 47 has no code for it and LINE never reports it.
"""

from __future__ import annotations

JA, JA_EASY, EN, VI = "ja", "ja-easy", "en", "vi"
LANGUAGES: tuple[str, ...] = (JA, JA_EASY, EN, VI)
DEFAULT = JA
# Each language's own name (autonym), shown on the choice buttons in every language alike:
# a resident looks for the name of the language they read.
NAMES = {JA: "日本語", JA_EASY: "やさしい にほんご", EN: "English", VI: "Tiếng Việt"}
# Lists inside a sentence (chosen topics): Japanese 、 and a comma elsewhere.
_LIST_SEPARATORS = {JA: "、", JA_EASY: "、", EN: ", ", VI: ", "}
# Languages that read dates in the Western calendar only (no 元号 buttons in the questions).
WESTERN = frozenset({EN, VI})


def known(code: str | None) -> str:
    """`code` if it is one of LANGUAGES, else the default (an old or hand-edited value)."""
    return code if code in LANGUAGES else DEFAULT


def from_line_profile(tag: str | None) -> str:
    """The language to preselect from a LINE profile's `language` (BCP 47: ja, en-US, vi…).

    LINE reports the language of the resident's LINE app; one of ours is taken as it is
    (English and Vietnamese of any region), anything else means Japanese.
    """
    primary = (tag or "").split("-")[0].split("_")[0].lower()
    return primary if primary in (JA, EN, VI) else DEFAULT


def join_list(items, lang: str = DEFAULT) -> str:
    """Items in one line, separated the way the language does (子育て、高齢者 / a, b)."""
    return _LIST_SEPARATORS.get(lang, "、").join(items)
