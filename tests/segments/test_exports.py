"""The public surface of `segments` is deliberate: adding or removing a name is a decision."""

import subprocess
import sys

import segments


def test_segments_exports_exactly_its_documented_names():
    assert segments.__all__ == [
        "GRADES",
        "Profile",
        "ResidentColumns",
        "Rule",
        "age_on",
        "attributes_used",
        "birth_bounds_for_age",
        "birth_range_for_grade",
        "compile_rule",
        "fiscal_year",
        "holds",
        "reiwa",
        "reiwa_fiscal_year",
        "school_grade",
    ]


def test_every_exported_name_exists():
    for name in segments.__all__:
        assert getattr(segments, name) is not None


def test_importing_segments_imports_nothing_from_the_application():
    code = "import sys, segments; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not [m for m in out.stdout.split() if m == "bot" or m.startswith("bot.")]
