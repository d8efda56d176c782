"""CSV files for the yearly report: UTF-8 with a BOM, so Excel in Japan opens them as is."""

from __future__ import annotations

import csv
import io

from bot.admin.report import RUN_STATUS, CampaignLine, suppressed

BOM = "\ufeff"
KPI_HEADER = (
    "年月",
    "新規友だち",
    "ブロック",
    "登録完了",
    "削除",
    "配信件数",
    "配信した制度数（累計）",
    "通知からのHP訪問",
    "申込フォームへの移動",
    "登録者数（月末累計）",
    "HP訪問者数（アクセス解析）",
    "登録者数の目標",
    "配信した制度数の目標",
    "HP訪問者数の目標（月）",
)
AUDIT_HEADER = ("日時", "職員", "操作", "内容")
CAMPAIGN_HEADER = (
    "配信計画",
    "制度",
    "送信枠",
    "状態",
    "送信済み",
    "保留（週の上限）",
    "失敗",
    "送信せず",
    "通知からのHP訪問",
    "申込フォームへの移動",
)


def _csv(header: tuple[str, ...], rows) -> str:
    # csv ends lines with CRLF, as Excel expects.
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return BOM + out.getvalue()


def _text(value: str) -> str:
    # A cell starting with = + - @ (or tab, CR, LF, which some spreadsheets skip before
    # reading a formula) would run as a formula in Excel (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else value


def _cell(value: int | None) -> str | int:
    return "" if value is None else value  # months not yet begun stay empty, not 0


def kpi_csv(d) -> str:
    """One row per month of the fiscal year, with a Japanese header row and the targets."""
    registrations = d.registrations.target if d.registrations else None
    programs = d.programs.target if d.programs else None
    targets = tuple(_cell(t) for t in (registrations, programs, d.visits_target))
    rows = []
    for m in d.months:
        values = (
            m.follows,
            m.unfollows,
            m.registered,
            m.deleted,
            m.sent,
            m.programs_cumulative,
            m.homepage,
            m.apply,
            m.registrations_cumulative,
            m.visitors,
        )
        rows.append((m.label, *(_cell(v) for v in values), *targets))
    return _csv(KPI_HEADER, rows)


def audit_csv(entries) -> str:
    """The audit log, newest first (who did what; never resident data)."""
    rows = [
        (e.at.strftime("%Y-%m-%d %H:%M:%S"), _text(e.actor), _text(e.action), _text(e.detail or ""))
        for e in entries
    ]
    return _csv(AUDIT_HEADER, rows)


def campaigns_csv(lines: list[CampaignLine]) -> str:
    """One row per campaign run of the fiscal year; counts of 1 to 9 become「10未満」."""
    rows = []
    for line in lines:
        for run in line.runs:
            counts = [run.deliveries[s] for s in ("sent", "deferred", "failed", "skipped")]
            counts += [run.clicks["homepage"], run.clicks["apply"]]
            when = "%Y-%m-%d 追いかけ配信" if run.kind == "catchup" else "%Y-%m-%d %H:%M"
            status = RUN_STATUS.get(run.status, run.status)
            names = (_text(line.campaign_id), _text(line.program_name))
            rows.append((*names, run.slot_at.strftime(when), status, *map(suppressed, counts)))
    return _csv(CAMPAIGN_HEADER, rows)
