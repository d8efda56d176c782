"""Dates as residents read them: the Japanese era (和暦) with the Western year beside it."""

from __future__ import annotations

import datetime as dt

# First day of each era; 元年 is year 1 (the state's usage).
ERAS: tuple[tuple[dt.date, str], ...] = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 10, 23), "明治"),
)


def wareki(day: dt.date) -> str:
    """The day in the Japanese era, e.g. 昭和33年7月3日, 令和元年5月1日."""
    for start, era in ERAS:
        if day >= start:
            number = day.year - start.year + 1
            year = "元" if number == 1 else str(number)
            return f"{era}{year}年{day.month}月{day.day}日"
    return seireki(day)


def seireki(day: dt.date) -> str:
    """The day in the Western calendar, e.g. 1958年7月3日."""
    return f"{day.year}年{day.month}月{day.day}日"


def both_calendars(day: dt.date) -> str:
    """Both calendars, e.g. 昭和33年7月3日（1958年7月3日）."""
    return f"{wareki(day)}（{seireki(day)}）"
