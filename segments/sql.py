"""The SQL back end of the rule language: compile a rule to a SQLAlchemy Core condition.

The caller passes the columns (``ResidentColumns``), so this module knows no tables and
never imports ``bot``. Two properties shape every atom:

* **Two-valued.** SQL is three-valued: ``district IN ('楯岡')`` is NULL, not FALSE, for a
  resident who skipped the question, and ``NOT NULL`` is NULL again, so ``not`` would
  drop that resident although config.md says ``not`` of a skipped answer holds. Every
  atom is therefore a definite TRUE/FALSE (``col IS NOT NULL AND …``, ``col IS true``,
  ``id IN (subquery over a NOT NULL column)``), and ``and``/``or``/``not`` of definite
  values stay definite.
* **Index-friendly.** Ages and school grades become birth-date ranges computed here in
  Python (segments.calendar), so the database compares a plain date column against
  constants; children and interests become non-correlated ``id IN (SELECT resident_id
  … [GROUP BY … HAVING count(*) >= n])`` subqueries that both SQLite and PostgreSQL
  evaluate once (PostgreSQL as a hashed semi-join, SQLite as a materialised index).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true

from segments.calendar import birth_bounds_for_age, birth_range_for_grade
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

Bounds = tuple[dt.date | None, dt.date | None]
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ResidentColumns:
    """The columns a compiled rule reads; children and interests are separate tables."""

    id: ColumnElement[int]
    birth_date: ColumnElement[dt.date]
    district: ColumnElement[str]
    household_size: ColumnElement[int]
    pregnant: ColumnElement[bool]
    single_parent: ColumnElement[bool]
    child_resident_id: ColumnElement[int]  # NOT NULL
    child_birth_date: ColumnElement[dt.date]  # NOT NULL
    interest_resident_id: ColumnElement[int]  # NOT NULL
    interest_topic: ColumnElement[str]  # NOT NULL


def compile_rule(rule: Any, cols: ResidentColumns, on: dt.date) -> ColumnElement[bool]:
    """A condition on the residents table that is TRUE exactly where `rule` holds on `on`."""
    return _COMPILE[type(rule)](rule, cols, on)


def _in_range(column: ColumnElement[Any], bounds: tuple[Any, Any]) -> list[ColumnElement[bool]]:
    low, high = bounds
    return [
        *([] if low is None else [column >= low]),
        *([] if high is None else [column <= high]),
    ]


def _known_and(column: ColumnElement[Any], *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    # FALSE AND NULL is FALSE: the IS NOT NULL guard makes the whole atom definite.
    return and_(column.is_not(None), *conditions)


def _age(rule: AgeRule, cols: ResidentColumns, on: dt.date) -> ColumnElement[bool]:
    bounds = birth_bounds_for_age(rule.min, rule.max, rule.on or on)
    return _known_and(cols.birth_date, *_in_range(cols.birth_date, bounds))


def _merge(ranges: Iterable[Bounds]) -> list[Bounds]:
    """Join touching birth-date ranges (adjacent grades) so the SQL has fewer ORs."""
    merged: list[Bounds] = []
    for low, high in sorted(ranges, key=lambda r: r[0] or dt.date.min):
        if merged:
            prev_low, prev_high = merged[-1]
            if prev_high is None or (low is not None and low <= prev_high + _DAY):
                new_high = None if None in (prev_high, high) else max(prev_high, high)
                merged[-1] = (prev_low, new_high)
                continue
        merged.append((low, high))
    return merged


def _child_conditions(rule: ChildRule, birth: ColumnElement[dt.date], day: dt.date) -> list:
    age: AgeRange | None = rule.age
    conditions = (
        [] if age is None else _in_range(birth, birth_bounds_for_age(age.min, age.max, day))
    )
    if rule.grade is not None:
        ranges = _merge(birth_range_for_grade(grade, day) for grade in rule.grade)
        conditions.append(or_(*(and_(true(), *_in_range(birth, r)) for r in ranges)))
    return conditions


def _child(rule: ChildRule, cols: ResidentColumns, on: dt.date) -> ColumnElement[bool]:
    parents = select(cols.child_resident_id).where(
        *_child_conditions(rule, cols.child_birth_date, rule.on or on)
    )
    if rule.count > 1:
        parents = parents.group_by(cols.child_resident_id).having(func.count() >= rule.count)
    # A resident who skipped the question has no rows, so the atom is FALSE, as required.
    return cols.id.in_(parents)


def _interest(rule: InterestRule, cols: ResidentColumns, on: dt.date) -> ColumnElement[bool]:
    return cols.id.in_(select(cols.interest_resident_id).where(cols.interest_topic.in_(rule.root)))


def _household_size(
    rule: HouseholdSizeRule, cols: ResidentColumns, on: dt.date
) -> ColumnElement[bool]:
    bounds = (rule.min, rule.max)
    return _known_and(cols.household_size, *_in_range(cols.household_size, bounds))


def _flag(column: ColumnElement[bool], wanted: bool) -> ColumnElement[bool]:
    # IS true / IS false (IS 1 / IS 0 on SQLite) is never NULL, unlike `= true`.
    return column.is_(true() if wanted else false())


_COMPILE: dict[type, Callable[[Any, ResidentColumns, dt.date], ColumnElement[bool]]] = {
    AllRule: lambda r, c, on: and_(*(compile_rule(sub, c, on) for sub in r.root)),
    AnyRule: lambda r, c, on: or_(*(compile_rule(sub, c, on) for sub in r.root)),
    NotRule: lambda r, c, on: not_(compile_rule(r.root, c, on)),
    AgeRule: _age,
    DistrictRule: lambda r, c, on: _known_and(c.district, c.district.in_(r.root)),
    ChildRule: _child,
    PregnantRule: lambda r, c, on: _flag(c.pregnant, r.root),
    HouseholdSizeRule: _household_size,
    SingleParentRule: lambda r, c, on: _flag(c.single_parent, r.root),
    InterestRule: _interest,
}
