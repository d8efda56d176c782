"""The gettext catalogue (messages/catalogue/*.po): complete, consistent, and readable.

Every language has every key, with the same placeholders as the Japanese source, made from
the current Japanese (msgid); every button label fits LINE's 20 characters once filled in;
やさしい日本語 keeps sentences short and kanji few; dates are written the local way.
"""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.dates import date_with_weekday, long_date
from messages.languages import LANGUAGES, from_line_profile, known
from messages.texts import CATALOGUE, SOURCES, TEXTS, say

TRANSLATIONS = [lang for lang in LANGUAGES if lang != "ja"]
# The widest values a label's placeholders take (the longest era, phone number, year range).
WIDEST = {
    "era": "大正",
    "a": 11,
    "b": 15,
    "wa": 1922,
    "wb": 1926,
    "phone": "0237-55-2111",
    "m": 12,
    "n": 10,
    "count": 12,
}
# Keys that are the same in every language on purpose: the way into the choice of language.
MULTILINGUAL = {"label_language", "q_language"}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_no_key_is_missing_or_extra_in_any_language(lang):
    assert sorted(set(TEXTS) - set(CATALOGUE[lang])) == [], f"{lang}.po misses these"
    assert sorted(set(CATALOGUE[lang]) - set(TEXTS)) == [], f"{lang}.po has unknown keys"


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translations_were_made_from_the_current_japanese(lang):
    """A changed Japanese text (ja.po msgid) must be copied into each .po and re-translated."""
    stale = [key for key, source in SOURCES[lang].items() if source != SOURCES["ja"].get(key)]
    assert stale == [], f"{lang}.po: the Japanese source changed since these were translated"


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_translation_has_the_same_placeholders(lang):
    different = {
        key: (placeholders(TEXTS[key]), placeholders(text))
        for key, text in CATALOGUE[lang].items()
        if placeholders(text) != placeholders(TEXTS[key])
    }
    assert different == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_button_label_fits_in_twenty_characters(lang):
    """LINE refuses quick reply (and rich menu) labels longer than 20 characters."""
    long = {
        key: say(key, lang, **{f: WIDEST[f] for f in placeholders(text)})
        for key, text in CATALOGUE[lang].items()
        if key.startswith(("label_", "menu_"))
    }
    assert {key: label for key, label in long.items() if len(label) > 20} == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_formats_with_its_placeholders(lang):
    for key, text in CATALOGUE[lang].items():
        assert say(key, lang, **{f: "X" for f in placeholders(text)})


def _kanji(text: str) -> int:
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or c == "々")


def _japanese(text: str) -> int:
    return sum(
        1 for c in text if "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" or c in "々ー"
    )


def _sentences(text: str) -> list[str]:
    plain = re.sub(r"\{[a-z_]+\}", "X", text)  # a placeholder counts as one character
    return [s.strip() for s in re.split(r"[。！？\n]", plain) if s.strip()]


EASY = {key: text for key, text in CATALOGUE["ja-easy"].items() if key not in MULTILINGUAL}
MAX_SENTENCE = 50  # characters; the Japanese source goes up to 52
MAX_KANJI_SHARE_TEXT = 0.25
MAX_KANJI_SHARE_ALL = 0.05  # the Japanese source: about 30 %


def test_easy_japanese_sentences_are_short():
    long = [
        (key, s) for key, text in EASY.items() for s in _sentences(text) if len(s) > MAX_SENTENCE
    ]
    assert long == []


def test_easy_japanese_keeps_kanji_few():
    heavy = {
        key: round(_kanji(t) / _japanese(t), 2)
        for key, t in EASY.items()
        if _japanese(t) and _kanji(t) / _japanese(t) > MAX_KANJI_SHARE_TEXT
    }
    assert heavy == {}
    share = sum(map(_kanji, EASY.values())) / sum(map(_japanese, EASY.values()))
    assert share <= MAX_KANJI_SHARE_ALL
    source = sum(map(_kanji, TEXTS.values())) / sum(map(_japanese, TEXTS.values()))
    assert share < source / 4  # and clearly easier than the source


def test_easy_japanese_gives_readings_for_the_kanji_it_keeps():
    """Every kanji word in やさしい日本語 is followed by its reading in brackets."""
    for key, text in EASY.items():
        plain = re.sub(r"\{[a-z_]+\}", "", text)
        for word in re.findall(r"[\u4e00-\u9fff々]+", plain):
            if key.startswith("label_"):
                continue  # era buttons (昭和うまれ) repeat what the question shows
            after = plain[plain.index(word) + len(word) :]
            assert re.match(r"[（：]", after) or re.search(rf"（[^）]*{word}", plain), (key, word)


def test_dates_are_written_the_local_way():
    day = dt.date(2027, 1, 29)
    assert date_with_weekday(day, "en") == "January 29, 2027 (Fri)"
    assert date_with_weekday(day, "vi") == "29/01/2027 (Thứ Sáu)"
    assert date_with_weekday(day, "ja-easy") == "2027ねん 1がつ 29にち（きんようび）"
    assert date_with_weekday(day, "ja") == "令和9年1月29日（金）"


EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
VI_DAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
EASY_DAYS = ("げつ", "か", "すい", "もく", "きん", "ど", "にち")


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_every_date_reads_back_to_itself_in_every_language(day):
    en = re.fullmatch(
        r"([A-Z][a-z]+) (\d{1,2}), (\d{4}) \(([A-Z][a-z]{2})\)", date_with_weekday(day, "en")
    )
    assert en and dt.datetime.strptime(f"{en[1]} {en[2]} {en[3]}", "%B %d %Y").date() == day
    assert en[4] == EN_DAYS[day.weekday()]
    vi = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4}) \((.+)\)", date_with_weekday(day, "vi"))
    assert vi and dt.date(int(vi[3]), int(vi[2]), int(vi[1])) == day
    assert vi[4] == VI_DAYS[day.weekday()]
    easy = re.fullmatch(
        r"(\d{4})ねん (\d{1,2})がつ (\d{1,2})にち（(.+)ようび）", date_with_weekday(day, "ja-easy")
    )
    assert easy and dt.date(int(easy[1]), int(easy[2]), int(easy[3])) == day
    assert easy[4] == EASY_DAYS[day.weekday()]
    assert long_date(day, "en") in date_with_weekday(day, "en")


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("ja", "ja"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("vi", "vi"),
        ("vi-VN", "vi"),
        ("zh-Hant", "ja"),
        ("ko", "ja"),
        ("", "ja"),
        (None, "ja"),
        ("EN", "en"),
    ],
)
def test_the_line_profile_language_preselects_one_of_ours(tag, lang):
    assert from_line_profile(tag) == lang


def test_an_unknown_stored_language_reads_as_japanese():
    assert known("fr") == "ja" and known("vi") == "vi"
    assert say("label_done", "fr") == TEXTS["label_done"]


def test_topics_are_shown_in_the_resident_language_but_answer_with_the_configured_name():
    import datetime as dt

    from messages import Ask, build_question, decode

    ask = Ask(
        step="interests",
        token=3,
        today=dt.date(2026, 11, 22),
        lang="en",
        choices=("子育て", "高齢者"),
        chosen=frozenset({"高齢者"}),
        labels={"子育て": "Parenting", "高齢者": "Seniors"},
    )
    body = build_question(ask).to_dict()
    items = {i["action"]["label"]: decode(i["action"]["data"]) for i in body["quickReply"]["items"]}
    assert items["Parenting"]["v"] == "子育て" and items["✓Seniors"]["v"] == "高齢者"
    assert "Chosen so far: Seniors" in body["text"]
