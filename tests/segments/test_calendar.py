"""Japanese age (年齢計算ニ関スル法律), school grade (学年), 年度 and 令和 at every boundary."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segments.calendar import (
    GRADES,
    age_on,
    birth_bounds_for_age,
    birth_range_for_grade,
    fiscal_year,
    reiwa,
    reiwa_fiscal_year,
    school_grade,
)

births = st.dates(min_value=date(1900, 1, 1), max_value=date(2040, 12, 31))
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


def test_a_person_gains_a_year_at_the_start_of_the_day_before_the_birthday():
    assert age_on(date(1960, 4, 2), date(2025, 3, 31)) == 64
    assert age_on(date(1960, 4, 2), date(2025, 4, 1)) == 65
    assert age_on(date(1960, 4, 2), date(2025, 4, 2)) == 65


def test_someone_born_on_29_february_gains_a_year_on_28_february_in_every_year():
    born = date(2000, 2, 29)
    assert age_on(born, date(2023, 2, 27)) == 22
    assert age_on(born, date(2023, 2, 28)) == 23  # not a leap year
    assert age_on(born, date(2024, 2, 27)) == 23
    assert age_on(born, date(2024, 2, 28)) == 24  # a leap year: still the 28th
    assert age_on(born, date(2024, 2, 29)) == 24


def test_someone_born_on_1_march_gains_a_year_on_the_last_day_of_february():
    assert age_on(date(2000, 3, 1), date(2023, 2, 28)) == 23
    assert age_on(date(2000, 3, 1), date(2024, 2, 28)) == 23
    assert age_on(date(2000, 3, 1), date(2024, 2, 29)) == 24


def test_a_newborn_is_zero_and_the_unborn_are_negative():
    assert age_on(date(2026, 4, 1), date(2026, 4, 1)) == 0
    assert age_on(date(2026, 4, 2), date(2026, 4, 1)) == 0  # turns 0 the day before birth
    assert age_on(date(2026, 4, 3), date(2026, 4, 1)) == -1


def test_children_born_2_april_to_1_april_share_a_school_year():
    on = date(2026, 4, 1)  # 令和8年度 begins: the 2019-04-02 … 2020-04-01 cohort enters 小1
    assert school_grade(date(2019, 4, 2), on) == "小1"
    assert school_grade(date(2020, 4, 1), on) == "小1"
    assert school_grade(date(2020, 4, 2), on) == "未就学"
    assert school_grade(date(2019, 4, 1), on) == "小2"


def test_the_grade_changes_between_31_march_and_1_april():
    born = date(2019, 4, 2)
    assert school_grade(born, date(2026, 3, 31)) == "未就学"
    assert school_grade(born, date(2026, 4, 1)) == "小1"
    assert school_grade(born, date(2032, 3, 31)) == "小6"
    assert school_grade(born, date(2032, 4, 1)) == "中1"
    assert school_grade(born, date(2035, 4, 1)) == "高1"
    assert school_grade(born, date(2038, 3, 31)) == "高3"
    assert school_grade(born, date(2038, 4, 1)) == "その他"


def test_a_child_born_on_29_february_belongs_to_the_cohort_of_the_previous_april():
    assert school_grade(date(2020, 2, 29), date(2026, 4, 1)) == "小1"


def test_the_fiscal_year_runs_from_1_april_to_31_march():
    assert fiscal_year(date(2026, 4, 1)) == 2026
    assert fiscal_year(date(2027, 3, 31)) == 2026
    assert fiscal_year(date(2026, 3, 31)) == 2025
    assert fiscal_year(date(2026, 12, 31)) == 2026


def test_reiwa_dates_are_shown_with_gannen_for_the_first_year():
    assert reiwa(date(2026, 4, 1)) == "令和8年4月1日"
    assert reiwa(date(2019, 5, 1)) == "令和元年5月1日"
    assert reiwa(date(2019, 12, 31)) == "令和元年12月31日"
    assert reiwa(date(2020, 1, 1)) == "令和2年1月1日"
    assert reiwa_fiscal_year(2026) == "令和8年度"
    assert reiwa_fiscal_year(2019) == "令和元年度"


def test_a_date_before_reiwa_is_refused():
    with pytest.raises(ValueError, match="before 令和"):
        reiwa(date(2019, 4, 30))


def test_birth_bounds_for_65_and_over_on_1_april_2025_include_2_april_1960():
    earliest, latest = birth_bounds_for_age(65, None, date(2025, 4, 1))
    assert (earliest, latest) == (None, date(1960, 4, 2))


def test_birth_bounds_on_28_february_of_a_leap_year_end_on_a_real_day():
    # on + 1 day is 29 February; 65 years earlier has no 29 February.
    assert birth_bounds_for_age(65, None, date(2024, 2, 28)) == (None, date(1959, 2, 28))
    assert birth_bounds_for_age(None, 64, date(2024, 2, 28)) == (date(1959, 3, 1), None)


@given(births, days, st.integers(0, 120), st.integers(0, 30))
def test_birth_bounds_for_age_select_exactly_the_people_of_that_age(birth, on, low, span):
    earliest, latest = birth_bounds_for_age(low, low + span, on)
    in_bounds = earliest <= birth <= latest
    assert in_bounds == (low <= age_on(birth, on) <= low + span)


@given(births, days, st.sampled_from(GRADES))
def test_birth_range_for_grade_selects_exactly_the_children_in_that_grade(birth, on, grade):
    earliest, latest = birth_range_for_grade(grade, on)
    in_range = (earliest is None or earliest <= birth) and (latest is None or birth <= latest)
    assert in_range == (school_grade(birth, on) == grade)


@given(births, days)
def test_age_grows_by_at_most_one_from_one_day_to_the_next(birth, on):
    assert age_on(birth, on + timedelta(days=1)) - age_on(birth, on) in (0, 1)


def test_an_unknown_grade_name_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="未就学, 小1"):
        birth_range_for_grade("小7", date(2026, 4, 1))
