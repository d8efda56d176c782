"""The Python evaluator: who a rule is for, including residents who skipped questions."""

from datetime import date

from pydantic import TypeAdapter

from segments import Profile, holds
from segments.rules import Rule

RULE = TypeAdapter(Rule)
ON = date(2026, 4, 1)
SKIPPED_EVERYTHING = Profile()


def rule(data):
    return RULE.validate_python(data)


def test_a_senior_is_65_from_the_day_before_the_65th_birthday():
    senior = rule({"age": {"min": 65}})
    assert holds(senior, Profile(birth_date=date(1961, 4, 2)), ON)
    assert not holds(senior, Profile(birth_date=date(1961, 4, 3)), ON)


def test_a_rule_with_its_own_day_ignores_the_send_day():
    on_1_april_2025 = rule({"age": {"min": 65, "on": "2025-04-01"}})
    assert holds(on_1_april_2025, Profile(birth_date=date(1960, 4, 2)), date(2020, 1, 1))


def test_a_rule_about_a_skipped_answer_does_not_hold_and_its_negation_does():
    for data in (
        {"age": {"max": 100}},
        {"district": ["楯岡"]},
        {"household_size": {"min": 1}},
        {"pregnant": False},
        {"single_parent": False},
        {"child": {}},
        {"interest": ["防災"]},
    ):
        assert not holds(rule(data), SKIPPED_EVERYTHING, ON), data
        assert holds(rule({"not": data}), SKIPPED_EVERYTHING, ON), data


def test_pregnant_false_holds_only_for_a_resident_who_answered_no():
    assert holds(rule({"pregnant": False}), Profile(pregnant=False), ON)
    assert not holds(rule({"pregnant": False}), Profile(pregnant=True), ON)


def test_a_child_rule_counts_the_children_matching_every_condition():
    twins_in_primary = Profile(children=(date(2018, 5, 1), date(2018, 5, 1), date(2024, 1, 1)))
    two_pupils = rule({"child": {"grade": ["小1", "小2", "小3"], "count": 2}})
    three_pupils = rule({"child": {"grade": ["小1", "小2", "小3"], "count": 3}})
    toddler = rule({"child": {"age": {"max": 2}, "grade": ["未就学"]}})
    assert holds(two_pupils, twins_in_primary, ON)
    assert not holds(three_pupils, twins_in_primary, ON)
    assert holds(toddler, twins_in_primary, ON)


def test_a_resident_who_answered_no_children_matches_no_child_rule():
    assert not holds(rule({"child": {}}), Profile(children=()), ON)
    assert holds(rule({"not": {"child": {}}}), Profile(children=()), ON)


def test_any_all_and_interest_combine_as_written():
    elderly_or_disaster = rule({"any": [{"age": {"min": 75}}, {"interest": ["防災", "住まい"]}]})
    assert holds(elderly_or_disaster, Profile(interests=frozenset({"住まい"})), ON)
    assert not holds(elderly_or_disaster, Profile(interests=frozenset({"子育て"})), ON)
    in_tateoka_family = rule({"all": [{"district": ["楯岡"]}, {"household_size": {"min": 3}}]})
    assert holds(in_tateoka_family, Profile(district="楯岡", household_size=3), ON)
    assert not holds(in_tateoka_family, Profile(district="楯岡", household_size=2), ON)
