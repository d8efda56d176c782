"""CSV exports for the yearly report: Excel-ready, month by month, small counts hidden."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from bot.admin.export import CAMPAIGN_HEADER, KPI_HEADER
from bot.store.models import AuditEntry
from tests.admin import scenario
from tests.admin.conftest import STAFF_NAME


def download(client, path: str) -> tuple[bytes, list[list[str]], str]:
    """The raw body, the parsed rows and the file name of a CSV download."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    body = response.get_data()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    return body, rows, disposition.split('filename="')[1].rstrip('"')


TARGETS = ["5500", "10", "5000"]


def test_kpi_csv_has_a_bom_a_japanese_header_and_one_row_per_month(staff_client, rows, wiring):
    """kpi-2026.csv: BOM, CRLF, 12 months April to March; future months are empty."""
    with rows as r:
        scenario.build(r)
    body, table, filename = download(staff_client, "/admin/export/kpi.csv")
    assert filename == "kpi-2026.csv"
    assert body.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in body
    assert tuple(table[0]) == KPI_HEADER
    months = {row[0]: row[1:] for row in table[1:]}
    assert [row[0] for row in table[1:]][::11] == ["2026年4月", "2027年3月"]
    assert len(months) == 12
    # ... then 登録者数（月末累計）, HP訪問者数 (not entered) and the three targets.
    assert months["2026年4月"] == ["1", "0", "0", "0", "0", "0", "0", "0", "1", "", *TARGETS]
    assert months["2026年7月"] == ["0", "2", "0", "0", "0", "0", "0", "0", "13", "", *TARGETS]
    assert months["2026年8月"] == ["0", "0", "0", "1", "0", "0", "0", "0", "13", "", *TARGETS]
    assert months["2026年10月"] == ["0", "0", "0", "0", "65", "2", "12", "0", "13", "", *TARGETS]
    assert months["2026年11月"] == ["0", "0", "3", "0", "5", "2", "30", "4", "16", "", *TARGETS]
    assert months["2026年12月"] == [""] * 10 + TARGETS
    assert KPI_HEADER[9:] == (
        "登録者数（月末累計）",
        "HP訪問者数（アクセス解析）",
        "登録者数の目標",
        "配信した制度数の目標",
        "HP訪問者数の目標（月）",
    )
    with wiring.session_factory() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert (entry.actor, entry.detail) == (STAFF_NAME, "kpi-2026.csv")


def test_campaigns_csv_lists_each_run_with_small_counts_hidden(staff_client, rows):
    """campaigns-2026.csv: one row per run; 1 to 9 read「10未満」as on the page."""
    with rows as r:
        scenario.build(r)
    body, table, filename = download(staff_client, "/admin/export/campaigns.csv")
    assert filename == "campaigns-2026.csv"
    assert body.startswith(b"\xef\xbb\xbf")
    assert tuple(table[0]) == CAMPAIGN_HEADER
    assert table[1:] == [
        ["kosodate-ouen-2026", "子育て応援給付金", "2026-10-01 10:00", "完了",
         "25", "10未満", "0", "12", "30", "10未満"],
        ["kosodate-ouen-2026", "子育て応援給付金", "2026-11-10 10:00", "完了",
         "10未満", "0", "0", "0", "0", "0"],
        ["ninpu-shussan-2026", "妊婦健康診査費助成・出産応援給付金", "2026-10-01 10:00", "完了",
         "40", "0", "0", "0", "12", "0"],
    ]  # fmt: skip


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r", "\n"])
def test_csv_cells_that_could_start_a_formula_are_neutralised(first):
    """A program name starting with = + - @ tab CR LF is prefixed with ' (CSV injection)."""
    from bot.admin.export import _text

    assert _text(f"{first}HYPERLINK(1)") == f"'{first}HYPERLINK(1)"
    assert _text("子育て応援") == "子育て応援"
