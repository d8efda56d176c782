"""The rule language: what validates, and what a mistake reports (loc and message)."""

from datetime import date

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from segments.rules import (
    AgeRule,
    AllRule,
    ChildRule,
    DistrictRule,
    NotRule,
    Rule,
    attributes_used,
)

RULE = TypeAdapter(Rule)
MURAYAMA = {
    "districts": ["楯岡", "西郷", "大久保", "冨本", "戸沢", "袖崎", "大倉", "富並"],
    "topics": ["子育て", "高齢者", "健康・福祉", "住まい", "仕事・産業", "防災", "イベント"],
}


def errors(data, context=MURAYAMA):
    """The (loc, message) pairs of validating `data` as a rule."""
    with pytest.raises(ValidationError) as caught:
        RULE.validate_python(data, context=context)
    return [(e["loc"], e["msg"]) for e in caught.value.errors()]


def test_a_nested_rule_validates_into_typed_nodes():
    rule = RULE.validate_python(
        {"all": [{"age": {"min": 65, "on": date(2026, 4, 1)}}, {"not": {"district": ["楯岡"]}}]},
        context=MURAYAMA,
    )
    assert rule == AllRule([AgeRule(min=65, on=date(2026, 4, 1)), NotRule(DistrictRule(["楯岡"]))])


def test_a_rule_dumps_back_to_the_mapping_it_came_from():
    data = {"child": {"age": None, "grade": ["小1", "小2"], "count": 2, "on": None}}
    assert RULE.dump_python(RULE.validate_python(data)) == data


def test_a_rule_works_as_an_optional_pydantic_field():
    class Program(BaseModel):
        eligible: Rule | None = None

    assert Program.model_validate({}).eligible is None
    assert Program.model_validate({"eligible": {"pregnant": True}}).eligible is not None


def test_a_mapping_with_no_key_names_the_valid_keys():
    [(loc, message)] = errors({})
    assert loc == ()
    assert message.startswith("a rule has exactly one key, one of: all, any, not, age, district")
    assert "got 0" in message


def test_a_mapping_with_two_keys_names_both():
    [(loc, message)] = errors({"all": [{"age": {"min": 1}, "district": ["楯岡"]}]})
    assert loc == ("all", 0)
    assert "got 2: age, district" in message


def test_an_unknown_rule_is_named_with_the_valid_ones():
    [(loc, message)] = errors({"any": [{"pregnant": True}, {"agee": {"min": 3}}]})
    assert loc == ("any", 1)
    assert message.startswith("unknown rule 'agee'; a rule has exactly one key, one of: all")


def test_a_rule_that_is_not_a_mapping_is_refused():
    [(loc, message)] = errors(["age"])
    assert loc == ()
    assert "a rule has exactly one key" in message


def test_min_above_max_is_located_at_the_range():
    assert errors({"not": {"age": {"min": 70, "max": 65}}}) == [
        (("not", "age"), "min (70) is greater than max (65); use min <= max")
    ]
    assert errors({"household_size": {"min": 5, "max": 2}})[0][0] == ("household_size",)


def test_negative_numbers_are_refused_where_they_appear():
    assert [loc for loc, _ in errors({"child": {"age": {"min": -1}, "count": 0}})] == [
        ("child", "age", "min"),
        ("child", "count"),
    ]
    assert errors({"household_size": {"max": -2}})[0][0] == ("household_size", "max")


def test_an_unknown_grade_lists_the_grade_names():
    [(loc, message)] = errors({"child": {"grade": ["小1", "小7"]}})
    assert loc == ("child", "grade", 1)
    valid = "未就学, 小1, 小2, 小3, 小4, 小5, 小6, 中1, 中2, 中3, 高1, 高2, 高3, その他"
    assert message == f"unknown grade '小7'; valid: {valid}"


def test_an_unknown_district_lists_the_municipalitys_districts():
    [(loc, message)] = errors({"all": [{"district": ["楯岡", "楯丘"]}]})
    assert loc == ("all", 0, "district", 1)
    valid = "楯岡, 西郷, 大久保, 冨本, 戸沢, 袖崎, 大倉, 富並"
    assert message == f"unknown district '楯丘'; valid: {valid}"


def test_an_unknown_topic_lists_the_municipalitys_topics():
    [(loc, message)] = errors({"interest": ["子育て", "子育"]})
    assert loc == ("interest", 1)
    assert message.startswith("unknown topic '子育'; valid: 子育て, 高齢者")


def test_without_a_context_districts_and_topics_are_not_checked():
    rule = RULE.validate_python({"any": [{"district": ["どこでも"]}, {"interest": ["何でも"]}]})
    assert rule.root[0] == DistrictRule(["どこでも"])


def test_an_unknown_option_key_lists_the_valid_keys():
    [(loc, message)] = errors({"age": {"mn": 3}})
    assert loc == ("age",)
    assert message == "unknown key 'mn' in age; valid keys: min, max, on"


def test_empty_lists_and_non_boolean_flags_are_refused():
    assert errors({"all": []})[0][0] == ("all",)
    assert errors({"district": []})[0][0] == ("district",)
    assert errors({"pregnant": "yes"})[0][0] == ("pregnant",)


def test_every_mistake_in_a_rule_is_reported_at_once():
    locs = [loc for loc, _ in errors({"all": [{}, {"age": {"min": -1}}, {"district": ["x"]}]})]
    assert locs == [("all", 0), ("all", 1, "age", "min"), ("all", 2, "district", 0)]


def test_attributes_used_names_what_the_registration_dialog_must_ask():
    rule = RULE.validate_python(
        {
            "any": [
                {"all": [{"age": {"min": 65}}, {"not": {"single_parent": True}}]},
                {"child": {"grade": ["小1"]}},
                {"interest": ["防災"]},
            ]
        }
    )
    assert attributes_used(rule) == {"birth_date", "single_parent", "children", "interests"}
    assert attributes_used(ChildRule()) == {"children"}
