"""The SQL back end selects exactly the residents the Python evaluator says a rule is for.

Random rules (nested all/any/not) × random residents (skipped answers, 0–4 children,
29 February births) × days at the fiscal-year and leap-day edges, on SQLite and on
PostgreSQL (the `engine` fixture runs each test on both). Some residents are family
profiles (代理受信) of others: each is matched on its own answers, never its guardian's,
and the audience names its guardian's LINE id.
"""

from __future__ import annotations

import datetime as dt
from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter
from sqlalchemy import insert, select

from bot.store.models import Resident, ResidentChild, ResidentInterest
from bot.store.queries import RESIDENT_COLUMNS, eligible_residents, stream
from segments import Profile, compile_rule, holds
from segments.calendar import GRADES
from segments.rules import Rule
from tests.helpers import fixture_examples

DISTRICTS = ["楯岡", "西郷", "大久保", "冨本"]
TOPICS = ["子育て", "高齢者", "防災"]
RULE = TypeAdapter(Rule)
NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)

# Birthdays and days where the law and the school year turn over.
EDGE_DAYS = [
    date(y, m, d) for y in (2024, 2025, 2026) for m, d in ((2, 28), (3, 31), (4, 1), (4, 2))
]
EDGE_DAYS += [date(2024, 2, 29), date(2028, 2, 29), date(2027, 3, 1)]
EDGE_BIRTHS = [date(2000, 2, 29), date(1960, 4, 1), date(1960, 4, 2), date(1961, 4, 1)]
EDGE_BIRTHS += [date(2019, 4, 1), date(2019, 4, 2), date(2020, 2, 29), date(2020, 4, 1)]


def maybe(strategy):
    return st.none() | strategy


days = st.sampled_from(EDGE_DAYS) | st.dates(date(2020, 1, 1), date(2030, 12, 31))
adult_births = st.sampled_from(EDGE_BIRTHS) | st.dates(date(1920, 1, 1), date(2010, 12, 31))
child_births = st.sampled_from(EDGE_BIRTHS[4:]) | st.dates(date(2004, 1, 1), date(2029, 12, 31))


@st.composite
def bounds(draw, low, high):
    """{min, max} with either bound optional and min <= max."""
    a, b = sorted(draw(st.lists(st.integers(low, high), min_size=2, max_size=2)))
    return {k: v for k, v in (("min", a), ("max", b)) if draw(st.booleans())}


def with_day(options):
    return st.tuples(options, maybe(days)).map(
        lambda t: t[0] if t[1] is None else {**t[0], "on": t[1]}
    )


child_options = st.fixed_dictionaries(
    {},
    optional={
        "age": bounds(0, 20),
        "grade": st.lists(st.sampled_from(GRADES), min_size=1, max_size=4, unique=True),
        "count": st.integers(1, 3),
    },
)
atoms = st.one_of(
    with_day(bounds(0, 100)).map(lambda b: {"age": b}),
    st.lists(st.sampled_from(DISTRICTS), min_size=1, max_size=3).map(lambda d: {"district": d}),
    with_day(child_options).map(lambda c: {"child": c}),
    st.booleans().map(lambda b: {"pregnant": b}),
    bounds(1, 6).map(lambda b: {"household_size": b}),
    st.booleans().map(lambda b: {"single_parent": b}),
    st.lists(st.sampled_from(TOPICS), min_size=1, max_size=2).map(lambda t: {"interest": t}),
)
rules = st.recursive(
    atoms,
    lambda sub: st.one_of(
        st.lists(sub, min_size=1, max_size=3).map(lambda r: {"all": r}),
        st.lists(sub, min_size=1, max_size=3).map(lambda r: {"any": r}),
        sub.map(lambda r: {"not": r}),
    ),
    max_leaves=6,
).map(RULE.validate_python)

profiles = st.builds(
    Profile,
    birth_date=maybe(adult_births),
    district=maybe(st.sampled_from(DISTRICTS)),
    household_size=maybe(st.integers(1, 6)),
    pregnant=maybe(st.booleans()),
    single_parent=maybe(st.booleans()),
    children=maybe(st.lists(child_births, max_size=4).map(tuple)),
    interests=st.frozensets(st.sampled_from(TOPICS)),
)


def store(conn, people: list[Profile], guardians: list[int | None] | None = None) -> list[int]:
    """Insert the profiles as registered residents; return their ids in order.

    guardians[n], if given and not None, makes person n a family profile of the person at
    that (earlier) position: no LINE id, a label, the account's state mirrored.
    """
    ids = []
    for n, p in enumerate(people):
        guardian = None if guardians is None else guardians[n]
        row = {
            "line_user_id": f"U{n:032x}",
            "following": True,
            "consented_at": NOW,
            "registered_at": NOW,
            "birth_date": p.birth_date,
            "district": p.district,
            "household_size": p.household_size,
            "pregnant": p.pregnant,
            "single_parent": p.single_parent,
            "children_answered": p.children is not None,
        }
        if guardian is not None:
            row |= {"line_user_id": None, "guardian_id": ids[guardian], "label": f"家族{n}"}
        ids.append(conn.execute(insert(Resident).values(row).returning(Resident.id)).scalar_one())
    children = [
        {"resident_id": i, "birth_date": b}
        for i, p in zip(ids, people, strict=True)
        for b in p.children or ()
    ]
    interests = [
        {"resident_id": i, "topic": t}
        for i, p in zip(ids, people, strict=True)
        for t in p.interests
    ]
    if children:
        conn.execute(insert(ResidentChild), children)
    if interests:
        conn.execute(insert(ResidentInterest), interests)
    return ids


def selected(conn, rule, on: date) -> set[int]:
    query = select(Resident.id).where(compile_rule(rule, RESIDENT_COLUMNS, on))
    return set(conn.execute(query).scalars())


@fixture_examples(150)
@given(
    rule=rules,
    people=st.lists(profiles, min_size=1, max_size=10),
    on=days,
    links=st.lists(st.none() | st.integers(0, 9), min_size=10, max_size=10),
)
def test_sql_selects_exactly_the_residents_the_python_evaluator_selects(
    engine, rule, people, on, links
):
    # Person n is a family profile of an earlier account-holder when links[n] points at one.
    guardians: list[int | None] = []
    for n, link in enumerate(links[: len(people)]):
        holder = link is not None and link < n and guardians[link] is None
        guardians.append(link if holder else None)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            ids = store(conn, people, guardians)
            expected = {i for i, p in zip(ids, people, strict=True) if holds(rule, p, on)}
            assert selected(conn, rule, on) == expected
            # The audience path too: literal SQL through the driver's (server-side) cursor.
            streamed = dict(
                row for rows in stream(conn, eligible_residents(rule, on)) for row in rows
            )
            assert set(streamed) == expected
            # A profile's notices go to its guardian's LINE id.
            for n, rid in enumerate(ids):
                if rid in streamed:
                    holder = n if guardians[n] is None else guardians[n]
                    assert streamed[rid] == f"U{holder:032x}"
        finally:
            transaction.rollback()  # each example starts from empty tables


SKIPPABLE = [
    {"district": ["楯岡"]},
    {"pregnant": True},
    {"age": {"min": 0}},
    {"household_size": {"max": 9}},
    {"child": {}},
    {"interest": ["防災"]},
]


def test_a_skipped_answer_fails_its_rule_and_passes_its_negation_in_sql(engine):
    with engine.connect() as conn, conn.begin():
        [rid] = store(conn, [Profile(children=None)])
        for data in SKIPPABLE:
            assert selected(conn, RULE.validate_python(data), date(2026, 4, 1)) == set()
            assert selected(conn, RULE.validate_python({"not": data}), date(2026, 4, 1)) == {rid}
