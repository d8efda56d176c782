"""Whatever is in the files, checking returns problems and never raises."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError, Problem, check_config, load_config
from tests.config.helpers import CAMPAIGNS, MUNICIPALITY, PROGRAMS

KEYS = [
    "id",
    "name",
    "summary",
    "topic",
    "homepage",
    "apply_url",
    "period",
    "opens",
    "closes",
    "eligible",
    "audience",
    "send",
    "at",
    "before_close",
    "after_open",
    "program",
    "lead",
    "all",
    "any",
    "not",
    "age",
    "min",
    "max",
    "on",
    "district",
    "child",
    "grade",
    "count",
    "pregnant",
    "household_size",
    "single_parent",
    "interest",
    "municipality",
    "delivery",
    "window",
    "send_time",
    "max_per_week",
    "districts",
    "topics",
    "link_hosts",
    "kpi",
    "programs",
    "campaigns",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text(max_size=20)
    | st.dates()
    | st.datetimes()
    | st.sampled_from(["30d", "10:00", "08:00-20:00", "楯岡", "高齢者", "小1", "https://x"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
FILES = {"municipality.yaml": MUNICIPALITY, "programs.yaml": PROGRAMS, "campaigns.yaml": CAMPAIGNS}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_texts(texts: dict[str, str]) -> list[Problem]:
    """Write the texts (valid defaults for the rest), check them, and also try a load."""
    with tempfile.TemporaryDirectory() as folder:
        for name, default in FILES.items():
            Path(folder, name).write_text(texts.get(name, default), encoding="utf-8")
        problems = check_config(folder)
        try:
            assert isinstance(load_config(folder), Config)
        except ConfigError as error:
            assert list(error.problems) == problems
        return problems


@FAST
@given(name=st.sampled_from(sorted(FILES)), text=st.text(max_size=300))
def test_random_text_in_any_file(name, text):
    """Arbitrary characters give a list of problems (or none), never an exception."""
    problems = check_texts({name: text})
    assert all(isinstance(p, Problem) and p.file.endswith(".yaml") for p in problems)


@FAST
@given(name=st.sampled_from(sorted(FILES)), value=values)
def test_random_structures_in_any_file(name, value):
    """Random nesting, wrong types and huge numbers are problems, not crashes."""
    check_texts({name: yaml.safe_dump(value, allow_unicode=True)})


@FAST
@given(rule=values, slot=values)
def test_random_rules_and_slots_in_otherwise_valid_files(rule, slot):
    """Garbage in the places that take rules and slots is located in the file."""
    programs = PROGRAMS.replace(
        "      age: {min: 65}", _indent({"x": rule}).replace("x:", "age:", 1)
    )
    campaigns = CAMPAIGNS.replace("      - after_open: 0d", _indent([slot], 6))
    problems = check_texts({"programs.yaml": programs, "campaigns.yaml": campaigns})
    assert all(p.line is not None for p in problems)


def _indent(value: object, spaces: int = 6) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**6)
    return " " * spaces + text.strip()


def test_very_deep_nesting_is_a_problem():
    """Thousands of brackets do not exhaust the stack."""
    problems = check_texts({"programs.yaml": "programs: " + "[" * 5000 + "]" * 5000})
    assert problems and problems[0].file.endswith("programs.yaml")


def test_an_alias_bomb_is_refused():
    """Anchors and aliases are not expanded (no exponential blow-up)."""
    bomb = "a: &a [x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}]\n" for p, n in zip("abcdefghij", "bcdefghijk", strict=True)
    )
    problems = check_texts({"programs.yaml": bomb})
    assert any("aliases" in p.message for p in problems)


def test_python_tags_are_not_constructed():
    """Safe loading only: a python/object tag is a problem, never executed."""
    problems = check_texts(
        {"programs.yaml": "programs:\n  - id: !!python/object/apply:os.getcwd []\n"}
    )
    assert problems
