"""Segments: the rule language, the Japanese age/grade calendar, and rule evaluation.

Pure: no database session, no clock, no I/O. Pass the day in (``on: date``).
"""

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
from segments.evaluate import holds
from segments.profile import Profile
from segments.rules import Rule, attributes_used
from segments.sql import ResidentColumns, compile_rule

__all__ = [
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
