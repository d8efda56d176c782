"""The Python back end of the rule language: does a rule hold for one resident on a day?

This is the oracle the SQL back end (segments/sql.py) is tested against. Skipped answers
follow config.md: a rule about an attribute the resident has not given does not hold, so
`not` of it holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from segments.calendar import age_on, school_grade
from segments.profile import Profile
from segments.rules import (
    AgeRange,
    AgeRule,
    AllRule,
    AnyRule,
    ChildRule,
    DistrictRule,
    HouseholdSizeRule,
    InterestRule,
    NotRule,
    PregnantRule,
    SingleParentRule,
)


def holds(rule: Any, profile: Profile, on: dt.date) -> bool:
    """Whether `rule` holds for `profile` on the day `on` (rules' own `on:` win)."""
    return _HOLDS[type(rule)](rule, profile, on)


def _within(value: int, bounds: AgeRange | HouseholdSizeRule) -> bool:
    return (bounds.min is None or value >= bounds.min) and (
        bounds.max is None or value <= bounds.max
    )


def _age(rule: AgeRule, p: Profile, on: dt.date) -> bool:
    return p.birth_date is not None and _within(age_on(p.birth_date, rule.on or on), rule)


def _child(rule: ChildRule, p: Profile, on: dt.date) -> bool:
    day = rule.on or on
    matching = [
        birth
        for birth in p.children or ()
        if (rule.age is None or _within(age_on(birth, day), rule.age))
        and (rule.grade is None or school_grade(birth, day) in rule.grade)
    ]
    return len(matching) >= rule.count


def _household_size(rule: HouseholdSizeRule, p: Profile, on: dt.date) -> bool:
    return p.household_size is not None and _within(p.household_size, rule)


_HOLDS: dict[type, Callable[[Any, Profile, dt.date], bool]] = {
    AllRule: lambda r, p, on: all(holds(sub, p, on) for sub in r.root),
    AnyRule: lambda r, p, on: any(holds(sub, p, on) for sub in r.root),
    NotRule: lambda r, p, on: not holds(r.root, p, on),
    AgeRule: _age,
    DistrictRule: lambda r, p, on: p.district is not None and p.district in r.root,
    ChildRule: _child,
    # `is` comparisons: a skipped (None) answer matches neither true nor false.
    PregnantRule: lambda r, p, on: p.pregnant is r.root,
    HouseholdSizeRule: _household_size,
    SingleParentRule: lambda r, p, on: p.single_parent is r.root,
    InterestRule: lambda r, p, on: not p.interests.isdisjoint(r.root),
}
