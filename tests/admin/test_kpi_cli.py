"""`todoku kpi record homepage-visits --month YYYY-MM --count N` and `todoku kpi --json`."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.store.models import AuditEntry
from tests.helpers import todoku


def test_recorded_visitors_appear_in_kpi_json_and_the_audit_log(engine, wiring):
    """Recorded, corrected (the audit keeps the old figure), refused for a bad month."""
    args = ("kpi", "record", "homepage-visits", "--month", "2026-10", "--count")
    done = todoku(engine, *args, "4000", stdin="")
    assert done.returncode == 0, done.stderr
    assert "2026年10月のHP訪問者数を 4,000 人として記録しました" in done.stdout
    assert todoku(engine, *args, "4321", stdin="").returncode == 0
    figures = json.loads(todoku(engine, "kpi", "--json", stdin="").stdout)
    assert figures["homepage_visitors_month"] == "2026-10"
    assert figures["homepage_visitors"] == 4321
    assert figures["homepage_visits_per_month_target"] == 5000
    bad = todoku(
        engine, "kpi", "record", "homepage-visits", "--month", "10/2026", "--count", "1", stdin=""
    )
    assert bad.returncode == 1 and "write it like 2026-11" in bad.stderr
    negative = todoku(engine, *args, "-5", stdin="")
    assert negative.returncode == 2
    with wiring.session_factory() as s:
        details = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "homepage_visits"))
        assert list(details) == [
            "month=2026-10 visitors=4000",
            "month=2026-10 visitors=4321 (was 4000)",
        ]
