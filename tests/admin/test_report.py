"""Pure pieces of the dashboard: progress and pace, small-number suppression, CSV cells."""

from __future__ import annotations

from datetime import date

from bot.admin.export import _text
from bot.admin.report import progress, shown, suppressed
from bot.config import Target

TARGET = Target(target=5500, by=date(2027, 3, 31))


def test_pace_spreads_what_is_missing_over_the_months_left():
    """1,000 registered on 1 April 2026: 4,500 over 364 days (11.96 months), 377 a month."""
    p = progress(1000, TARGET, date(2026, 4, 1))
    assert (p.percent, p.remaining, p.per_month_needed) == (18, 4500, 377)


def test_no_pace_once_reached_or_past_the_deadline():
    """Reached: 100% and nothing needed; deadline passed: no pace to show."""
    reached = progress(6000, TARGET, date(2027, 1, 1))
    assert (reached.percent, reached.remaining, reached.per_month_needed) == (100, 0, None)
    assert progress(10, TARGET, date(2027, 4, 1)).per_month_needed is None
    assert progress(10, None, date(2027, 4, 1)) is None


def test_counts_from_one_to_nine_are_suppressed():
    """0 and 10+ are shown; 1 to 9 are「10未満」on the page and in CSV."""
    assert [shown(n) for n in (0, 1, 9, 10, 1234)] == ["0", "10未満", "10未満", "10", "1,234"]
    assert [suppressed(n) for n in (0, 5, 10)] == [0, "10未満", 10]


def test_csv_text_cannot_start_a_formula():
    """A name beginning with = + - @ is written with a leading quote for Excel."""
    assert [_text(v) for v in ("=1+1", "-x", "@a", "子育て")] == ["'=1+1", "'-x", "'@a", "子育て"]
