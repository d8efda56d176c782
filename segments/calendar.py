"""The Japanese calendar rules the segment engine follows: age, school grade, 年度, 令和.

All dates are local dates (Asia/Tokyo); nothing here reads a clock.

Age follows 年齢計算ニ関スル法律 (明治35年法律第50号) with 民法143条: age is counted from
the day of birth, and a year is completed at the end of the day before the birthday,
so a person gains a year *at the start of the day before their birthday*. Hence the
age on ``on`` equals the everyday age on ``on + 1 day``; someone born on 29 February
gains a year on 28 February, in leap years and other years alike.
"""

from __future__ import annotations

import datetime as dt

GRADE_NAMES: tuple[str, ...] = (
    "小1", "小2", "小3", "小4", "小5", "小6",
    "中1", "中2", "中3", "高1", "高2", "高3",
)  # fmt: skip
PRESCHOOL = "未就学"
BEYOND = "その他"
# 学年 order, youngest first; the rule language accepts exactly these names.
GRADES: tuple[str, ...] = (PRESCHOOL, *GRADE_NAMES, BEYOND)

REIWA_START = dt.date(2019, 5, 1)
_DAY = dt.timedelta(days=1)


def _completed_years(birth: dt.date, t: dt.date) -> int:
    """Everyday age: whole years from birth to t (birthday reached on the birthday)."""
    return t.year - birth.year - ((t.month, t.day) < (birth.month, birth.day))


def age_on(birth: dt.date, on: dt.date) -> int:
    """Age on a day by 年齢計算ニ関スル法律 (negative before birth)."""
    return _completed_years(birth, on + _DAY)


def fiscal_year(d: dt.date) -> int:
    """The 年度 a day belongs to: 1 April Y … 31 March Y+1 is 年度 Y."""
    return d.year if d.month >= 4 else d.year - 1


def _cohort(birth: dt.date) -> int:
    """School cohort Y: born 2 April Y … 1 April Y+1 (1 April belongs to the earlier year).

    A child born on 1 April completes six years at the end of 31 March (by the law above),
    so they are already six on 1 April and start school a year earlier than a 2 April child.
    """
    return birth.year if (birth.month, birth.day) >= (4, 2) else birth.year - 1


def school_grade(birth: dt.date, on: dt.date) -> str:
    """School grade (学年) on a day: 未就学, 小1…小6, 中1…中3, 高1…高3, or その他."""
    index = fiscal_year(on) - (_cohort(birth) + 7)  # 0 = 小1: cohort Y enters on 1 April Y+7
    if index < 0:
        return PRESCHOOL
    if index >= len(GRADE_NAMES):
        return BEYOND
    return GRADE_NAMES[index]


def reiwa(d: dt.date) -> str:
    """Show a day in the 令和 era, e.g. 令和8年4月1日 (令和元年 for 2019)."""
    if d < REIWA_START:
        raise ValueError(f"{d.isoformat()} is before 令和 (from {REIWA_START.isoformat()})")
    return f"{_reiwa_year(d.year)}{d.month}月{d.day}日"


def reiwa_fiscal_year(year: int) -> str:
    """Show a 年度 in 令和, e.g. 令和8年度 for 2026 (令和元年度 for 2019, as the state does)."""
    if year < REIWA_START.year:
        raise ValueError(f"年度 {year} is before 令和")
    return f"{_reiwa_year(year)}度"


def _reiwa_year(year: int) -> str:
    number = year - 2018
    return "令和元年" if number == 1 else f"令和{number}年"


def _latest_birth_for_age(years: int, on: dt.date) -> dt.date:
    """The last birth date of someone at least `years` old on `on` (by the law above)."""
    t = on + _DAY
    try:
        return t.replace(year=t.year - years)
    except ValueError:  # t is 29 February and the target year is not a leap year
        return dt.date(t.year - years, 2, 28)


def birth_bounds_for_age(
    min_age: int | None, max_age: int | None, on: dt.date
) -> tuple[dt.date | None, dt.date | None]:
    """Inclusive (earliest, latest) birth dates of people aged min…max on `on`; None = open."""
    latest = None if min_age is None else _latest_birth_for_age(min_age, on)
    earliest = None if max_age is None else _latest_birth_for_age(max_age + 1, on) + _DAY
    return earliest, latest


def birth_range_for_grade(grade: str, on: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """Inclusive (earliest, latest) birth dates of children in a grade on `on`; None = open."""
    if grade not in GRADES:
        raise ValueError(f"unknown grade {grade!r}; valid: {', '.join(GRADES)}")
    first_grade_cohort = fiscal_year(on) - 7  # the cohort in 小1 this 年度
    if grade == PRESCHOOL:
        return dt.date(first_grade_cohort + 1, 4, 2), None
    if grade == BEYOND:
        return None, dt.date(first_grade_cohort - len(GRADE_NAMES) + 1, 4, 1)
    cohort = first_grade_cohort - GRADE_NAMES.index(grade)
    return dt.date(cohort, 4, 2), dt.date(cohort + 1, 4, 1)


# --- Plausible birth dates: the dialog's bounds, also applied by `residents import` -------

OLDEST_YEARS = 120  # a birth date more than 120 years ago is a mistake
PARENT_MIN_AGE = 12  # a child born before the parent was 12 is a mistake


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day `years` earlier (28 February for 29 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def earliest_birth(today: dt.date) -> dt.date:
    """The earliest birth date the bot accepts (120 years ago; the picker's floor is 1900)."""
    return max(years_before(today, OLDEST_YEARS), dt.date(1900, 1, 1))


def earliest_child_birth(today: dt.date, parent_birth: dt.date | None) -> dt.date:
    """The earliest birth date of a child: when the parent was 12, else 120 years ago."""
    if parent_birth is None:
        return earliest_birth(today)
    at_twelve = years_before(parent_birth, -PARENT_MIN_AGE)
    return min(max(at_twelve, earliest_birth(today)), today)
