"""Typed birth dates: 和暦 and 西暦 in the forms residents write, and nothing else."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.dates import parse_date, parse_day, wareki, wareki_with_year

DAYS = st.dates(min_value=dt.date(1868, 10, 23), max_value=dt.date(2099, 12, 31))


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("昭和21年5月3日", dt.date(1946, 5, 3)),
        ("S21.5.3", dt.date(1946, 5, 3)),
        ("s21/5/3", dt.date(1946, 5, 3)),
        ("昭21.5.3", dt.date(1946, 5, 3)),
        ("1946/5/3", dt.date(1946, 5, 3)),
        ("1946-05-03", dt.date(1946, 5, 3)),
        ("1946年5月3日", dt.date(1946, 5, 3)),
        ("１９４６年５月３日", dt.date(1946, 5, 3)),
        ("Ｓ２１．５．３", dt.date(1946, 5, 3)),
        ("昭和 21 年 5 月 3 日", dt.date(1946, 5, 3)),
        ("昭和二十一年五月三日", dt.date(1946, 5, 3)),
        ("昭和21年5月3日生まれです", dt.date(1946, 5, 3)),
        ("19460503", dt.date(1946, 5, 3)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("H元年1月8日", dt.date(1989, 1, 8)),
        ("平成31年5月1日", dt.date(2019, 5, 1)),  # still written so on some forms
    ],
)
def test_typed_dates_are_read(typed, expected):
    assert parse_date(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "こんにちは",
        "電話で聞きたい",
        "令和元年4月30日",
        "平成33年1月1日",
        "昭和0年1月1日",
        "1946/2/30",
        "46/5/3",
        "5月3日",
        "昭和21年13月1日",
        "昭和21年5月3日" * 5,
        "S21.5",
    ],
)
def test_other_text_is_not_a_date(typed):
    assert parse_date(typed) is None


@given(DAYS)
def test_every_date_round_trips_through_its_wareki(day):
    """What the bot reads back (和暦) is read as the same day, in every spelling."""
    assert parse_date(wareki(day)) == day
    assert parse_date(_full_width(wareki(day))) == day
    assert parse_date(f"{day:%Y/%m/%d}") == day
    assert parse_date(day.isoformat()) == day
    assert parse_date(_full_width(f"{day.year}/{day.month}/{day.day}")) == day


@given(st.text(max_size=60))
def test_hostile_text_never_raises(text):
    assert parse_date(text) is None or isinstance(parse_date(text), dt.date)
    assert parse_day(text) is None or 1 <= parse_day(text) <= 31


@given(st.text(alphabet="0123456789年月日元昭和平成令大正明治SHRTM./- 　十一二三五", max_size=20))
def test_date_like_text_never_raises(text):
    found = parse_date(unicodedata.normalize("NFC", text))
    assert found is None or isinstance(found, dt.date)


def test_read_back_names_both_calendars():
    assert wareki_with_year(dt.date(1946, 5, 3)) == "昭和21年5月3日（1946年）"


def test_a_day_alone():
    typed = ("3", "３日", "三日", "31", "32", "x")
    assert [parse_day(t) for t in typed] == [3, 3, 3, 31, None, None]
