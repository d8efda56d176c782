"""Whatever is in the files, checking returns problems and never raises."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError, Problem, check_config, load_config, yamlsource
from tests.config.helpers import CAMPAIGNS, MUNICIPALITY, PROGRAMS
from tests.conftest import REPO

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


def read_both_ways(text: str) -> tuple[tuple, tuple]:
    """What reading `text` gives with libyaml and with the pure-Python loader alone."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "programs.yaml")
        path.write_text(text, encoding="utf-8")
        fast = _read(path)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(yamlsource, "_C_LOADER", None)
            pure = _read(path)
    return fast, pure


def _read(path: Path) -> tuple:
    doc, problems = yamlsource.read_yaml(path)
    return repr(doc.data), doc.lines, doc.readable, problems  # repr: nan == nan


@FAST
@given(value=values, flow=st.booleans())
def test_libyaml_reads_structures_as_the_pure_loader_does(value, flow):
    """The fast reader (libyaml) gives the same values, lines and problems as PyYAML's own."""
    text = yaml.safe_dump({"programs": [value]}, allow_unicode=True, default_flow_style=flow)
    fast, pure = read_both_ways(text)
    assert fast == pure


@FAST
@given(text=st.text(max_size=300))
def test_libyaml_reads_any_text_as_the_pure_loader_does(text):
    """Broken files too: the same problems, worded the same, on the same lines."""
    fast, pure = read_both_ways(text)
    assert fast == pure


EDGES = {
    "a byte order mark": "\ufeffprograms: []\n",
    "Windows line ends": "programs:\r\n  - id: a\r\n",
    "old Mac line ends": "programs:\r  - id: a\r",
    "a tab for indentation": "programs:\n\t- id: a\n",
    "a tab after a value": "0\t",
    "a tab after a colon": "a:\tb\n",
    "an explicit empty document": "--- ",
    "a comment glued to a block scalar": ">#x\n  y\n",
    "a question mark in flow text": "a: {b?: c}\n",
    "a URL in a flow mapping": "a: {b: https://x.example/y}\n",
    "a bare tag": "!",
    "NEL and LINE SEPARATOR": "a: x\x85b: 2\nc: y\u2028d\n",
    "a byte order mark inside": "a: 1\n\ufeffb: 2\n",
    "a byte order mark after NEL": "\x85\ufeff",
    "an emoji": "a: \U0001f600\n",
    "an empty file": "",
    "only a comment": "# x\n",
    "a null document": "~\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "a document end": "a: 1\n...\n",
    "a YAML directive": "%YAML 1.1\n---\na: 1\n",
    "a TAG directive": "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "a merge key": "a: &x {b: 1}\nc:\n  <<: *x\n",
    "binary, set, omap": "a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: !!omap [x: 1]\n",
    "a timestamp": "a: 2001-12-14t21:59:43.10-05:00\n",
    "a complex key": "? [a, b]\n: 1\n",
    "an unknown tag": "a: !nope 1\n",
}


@pytest.mark.parametrize("text", EDGES.values(), ids=EDGES.keys())
def test_libyaml_reads_edge_cases_as_the_pure_loader_does(text):
    fast, pure = read_both_ways(text)
    assert fast == pure


def test_the_shipped_configuration_is_read_by_libyaml_with_the_same_result():
    """libyaml composes real files (so the comparisons above compare two readers)."""
    for name in FILES:
        text = (REPO / "config" / name).read_text(encoding="utf-8")
        assert yamlsource._compose_fast(text) is not None, name
        fast, pure = read_both_ways(text)
        assert fast == pure
    # Mistakes go through the pure reader, whose messages the problems quote.
    for broken in ("a: [1, 2\n", "a: *nowhere\n", "a: 1\n---\nb: 2\n", "a: \x07\n"):
        assert yamlsource._compose_fast(broken) is None, broken


def test_nesting_too_deep_for_libyaml_does_not_crash_the_process():
    """libyaml's composer recurses in C (200,000 brackets crash it): such a file never
    reaches it, and is a problem like any other."""
    code = (
        "import sys, pathlib, tempfile\n"
        "from bot.config.yamlsource import read_yaml\n"
        "path = pathlib.Path(tempfile.mkdtemp(), 'programs.yaml')\n"
        "path.write_text('programs: ' + '[' * 200_000 + ']' * 200_000)\n"
        "doc, problems = read_yaml(path)\n"
        "print(problems[0].message)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "nested too deeply" in result.stdout
