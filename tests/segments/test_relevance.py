"""Which questions could still matter: never leaves out a question a rule needs."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from segments import Profile, Rule, holds
from segments.relevance import could_hold, matters

ON = dt.date(2026, 11, 22)
rule = TypeAdapter(Rule).validate_python
RULES = [
    rule({"pregnant": True}),
    rule({"all": [{"age": {"min": 30, "max": 74}}, {"not": {"pregnant": True}}]}),
    rule({"all": [{"age": {"min": 65}}, {"household_size": {"max": 1}}]}),
    rule({"all": [{"single_parent": True}, {"child": {"age": {"max": 17}}}]}),
    rule({"any": [{"age": {"max": 39}}, {"child": {"grade": ["未就学", "小1"]}}]}),
    rule({"child": {"age": {"max": 17}, "count": 2}}),
    rule({"district": ["大倉", "富並"]}),
    rule(
        {
            "not": {
                "any": [
                    {"all": [{"age": {"min": 60}}, {"household_size": {"max": 1}}]},
                    {"all": [{"age": {"min": 65}}, {"household_size": {"max": 2}}]},
                ]
            }
        }
    ),
]
ATTRIBUTES = ("birth_date", "district", "household_size", "children", "pregnant", "single_parent")
VALUES = {
    "birth_date": st.none() | st.dates(dt.date(1920, 1, 1), ON),
    "district": st.none() | st.sampled_from(["楯岡", "大倉", "富並"]),
    "household_size": st.none() | st.integers(1, 10),
    "children": st.none() | st.lists(st.dates(dt.date(2000, 1, 1), ON), max_size=3).map(tuple),
    "pregnant": st.none() | st.booleans(),
    "single_parent": st.none() | st.booleans(),
}
profiles = st.fixed_dictionaries(VALUES).map(lambda v: Profile(**v))


def test_the_examples_of_the_issue():
    """A 78-year-old living alone: pregnancy still matters to a `pregnant: true` rule (so the
    configuration's ask_if decides), not to 人間ドック (30–74)."""
    alone = Profile(birth_date=dt.date(1948, 5, 3), household_size=1, children=())
    known = frozenset({"birth_date", "district", "household_size", "children"})
    assert matters(RULES[0], "pregnant", alone, known, ON)
    assert not matters(RULES[1], "pregnant", alone, known, ON)
    assert not matters(RULES[3], "single_parent", alone, known, ON)  # no children
    assert not could_hold(RULES[7], alone, known, ON)  # the sample's ask_if: not asked
    young = Profile(birth_date=dt.date(1990, 1, 1))
    assert could_hold(RULES[7], young, frozenset({"birth_date"}), ON, must=True)
    assert not matters(RULES[2], "household_size", young, frozenset({"birth_date"}), ON)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(RULES),
    st.sampled_from(ATTRIBUTES),
    st.sets(st.sampled_from(ATTRIBUTES)),
    profiles,
    profiles,
    profiles,
)
def test_a_question_said_not_to_matter_never_changes_the_outcome(r, attribute, known, a, b, c):
    """Sound: if the answer cannot matter, no two answers (whatever the unknown rest is)
    make the rule come out differently."""
    known = frozenset(known) - {attribute}
    if matters(r, attribute, a, known, ON):
        return
    rest = {k: getattr(b, k) for k in ATTRIBUTES if k not in known and k != attribute}
    base = dataclasses.replace(a, **rest)
    one = dataclasses.replace(base, **{attribute: getattr(b, attribute)})
    two = dataclasses.replace(base, **{attribute: getattr(c, attribute)})
    assert holds(r, one, ON) == holds(r, two, ON)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(RULES), st.sets(st.sampled_from(ATTRIBUTES)), profiles, profiles)
def test_could_hold_is_sound(r, known, a, b):
    """If no answer to the unknown questions could make the rule hold, none does."""
    known = frozenset(known)
    rest = {k: getattr(b, k) for k in ATTRIBUTES if k not in known}
    completed = dataclasses.replace(a, **rest)
    if not could_hold(r, a, known, ON):
        assert not holds(r, completed, ON)
    if could_hold(r, a, known, ON, must=True):
        assert holds(r, completed, ON)
