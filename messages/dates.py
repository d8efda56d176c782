"""Dates as residents read them: the Japanese era (和暦) with the Western year beside it."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from babel.dates import format_date

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


# Era names as residents type them: the full name, one kanji, or the Latin initial.
_ERA_NAMES = {
    "令和": "令和", "令": "令和", "R": "令和",
    "平成": "平成", "平": "平成", "H": "平成",
    "昭和": "昭和", "昭": "昭和", "S": "昭和",
    "大正": "大正", "大": "大正", "T": "大正",
    "明治": "明治", "明": "明治", "M": "明治",
}  # fmt: skip
_ERA_START = {era: start for start, era in ERAS}
_KANJI_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_NUMBER = r"(\d{1,4})"
_SEP = r"\s*(?:年|月|日|[./\-,、]|\s)\s*"
_DATE = re.compile(
    rf"^(?P<era>{'|'.join(sorted(_ERA_NAMES, key=len, reverse=True))})?\s*"
    rf"{_NUMBER}{_SEP}{_NUMBER}{_SEP}{_NUMBER}\s*日?\s*(?:生まれ|うまれ|生)?\s*(?:です)?[。.]?$",
    re.IGNORECASE,
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
MAX_TYPED = 40  # longer text is not a date; never run the pattern on a whole letter


def era_start(era: str) -> dt.date:
    """The first day of an era (令和 → 2019-05-01)."""
    return _ERA_START[era]


def era_year(day: dt.date) -> tuple[str, int]:
    """The era and its year number of a day (1958-07-03 → ("昭和", 33))."""
    for start, era in ERAS:
        if day >= start:
            return era, day.year - start.year + 1
    return "", day.year


def era_year_label(era: str, number: int) -> str:
    """昭和21年, 令和元年."""
    return f"{era}{'元' if number == 1 else number}年"


def wareki_with_year(day: dt.date) -> str:
    """The read-back form: 昭和21年5月3日（1946年）."""
    return f"{wareki(day)}（{day.year}年）"


def parse_date(text: str) -> dt.date | None:
    """A date typed in 和暦 or 西暦, or None when the text is not one valid date.

    Accepts 昭和21年5月3日, 昭21.5.3, S21.5.3, 1946/5/3, 1946-05-03, 1946年5月3日, 19460503,
    full-width digits and letters, 元年, kanji digits (昭和二十一年五月三日) and a trailing
    「生まれ」「です」. Never raises: anything else is None.
    """
    if not isinstance(text, str) or len(text) > MAX_TYPED:
        return None
    plain = _kanji_numbers(unicodedata.normalize("NFKC", text)).strip().replace("元年", "1年")
    compact = _COMPACT.match(plain)
    if compact:
        return _date(*(int(g) for g in compact.groups()))
    match = _DATE.match(plain)
    if not match:
        return None
    era_typed = match["era"]
    year, month, day = (int(match[i]) for i in (2, 3, 4))
    if era_typed is None:
        return _date(year, month, day) if year >= 1000 else None
    era = _ERA_NAMES.get(era_typed) or _ERA_NAMES.get(era_typed.upper())
    if era is None or not 1 <= year <= 99:
        return None
    start = _ERA_START[era]
    found = _date(start.year + year - 1, month, day)
    if found is None or found < start:
        return None
    # The year after an era ended is still written in that era on some forms
    # (平成31年5月1日); a later year is a mistake.
    later = [s for s, _ in ERAS if s > start]
    if later and found.year > min(later).year:
        return None
    return found


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _kanji_numbers(text: str) -> str:
    """二十一 → 21, 三 → 3, 十 → 10 (only the small numbers a date uses)."""

    def value(match: re.Match[str]) -> str:
        word = match[0]
        if "十" not in word:
            return "".join(str(_KANJI_DIGITS[c]) for c in word)
        tens, _, ones = word.partition("十")
        total = (_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)
        return str(total)

    return re.sub(
        r"[〇零一二三四五六七八九]?十[一二三四五六七八九]?|[〇零一二三四五六七八九]+", value, text
    )


def parse_day(text: str) -> int | None:
    """A day of the month typed alone (3, ３日, 三日), or None."""
    if not isinstance(text, str) or len(text) > MAX_TYPED:
        return None
    plain = _kanji_numbers(unicodedata.normalize("NFKC", text)).strip()
    match = re.fullmatch(r"(\d{1,2})\s*日?\s*(?:です)?[。.]?", plain)
    return int(match[1]) if match and 1 <= int(match[1]) <= 31 else None


WEEKDAYS = "月火水木金土日"


def wareki_weekday(day: dt.date) -> str:
    """The day in 和暦 with its weekday: 令和9年1月29日（金）."""
    return f"{wareki(day)}（{WEEKDAYS[day.weekday()]}）"


# Dates in the resident's language. Japanese keeps 和暦; やさしい日本語 writes the Western
# year in kana (2027ねん 1がつ 29にち), as the easy-Japanese guidelines advise; English and
# Vietnamese are written the local way, with Babel's CLDR month and weekday names.
EASY_WEEKDAYS = (
    "げつようび",
    "かようび",
    "すいようび",
    "もくようび",
    "きんようび",
    "どようび",
    "にちようび",
)


def long_date(day: dt.date, lang: str = "ja") -> str:
    """令和9年1月29日 / 2027ねん 1がつ 29にち / January 29, 2027 / 29/01/2027."""
    if lang == "ja-easy":
        return f"{day.year}ねん {day.month}がつ {day.day}にち"
    if lang == "en":
        return format_date(day, "MMMM d, y", locale="en")
    if lang == "vi":
        return format_date(day, "dd/MM/y", locale="vi")
    return wareki(day)


def date_with_weekday(day: dt.date, lang: str = "ja") -> str:
    """令和9年1月29日（金） / 2027ねん 1がつ 29にち（きんようび） / January 29, 2027 (Fri) /
    29/01/2027 (Thứ Sáu)."""
    if lang == "ja-easy":
        return f"{long_date(day, lang)}（{EASY_WEEKDAYS[day.weekday()]}）"
    if lang == "en":
        return f"{long_date(day, lang)} ({format_date(day, 'EEE', locale='en')})"
    if lang == "vi":
        return f"{long_date(day, lang)} ({format_date(day, 'EEEE', locale='vi')})"
    return wareki_weekday(day)


def birth_date_text(day: dt.date, lang: str = "ja") -> str:
    """A birth date on the review: both calendars in Japanese, the local way otherwise."""
    return both_calendars(day) if lang == "ja" else long_date(day, lang)


def readback_date(day: dt.date, lang: str = "ja") -> str:
    """A date read back after it was answered: 昭和21年5月3日（1946年）, or the local way."""
    return wareki_with_year(day) if lang == "ja" else long_date(day, lang)
