"""Dashboard pages: the KPI page, its two charts and the CSV exports."""

from __future__ import annotations

from flask import Response, g, render_template

from bot.admin import CHART_CSP, blueprint
from bot.admin.auth import current_wiring
from bot.admin.charts import clicks_chart, registrations_chart
from bot.admin.export import campaigns_csv, kpi_csv
from bot.admin.report import RUN_STATUS, Dashboard, dashboard, shown
from bot.admin.staff import record
from bot.store.engine import transaction


def _dashboard() -> Dashboard:
    wiring = current_wiring()
    wiring.refresh_config()  # programs and campaigns as the staff last saved them
    with wiring.session_factory() as session:
        return dashboard(session, wiring.config, wiring.clock.now())


@blueprint.get("/")
def index() -> str:
    """The KPI page."""
    wiring = current_wiring()
    return render_template(
        "admin/index.html",
        d=_dashboard(),
        municipality=wiring.config.municipality.name,
        staff=g.staff_name,
        shown=shown,
        run_status=RUN_STATUS,
    )


@blueprint.get("/charts/<name>.svg")
def chart(name: str) -> Response:
    """A monthly chart of the current fiscal year as SVG."""
    draw = {"registrations": registrations_chart, "clicks": clicks_chart}.get(name)
    if draw is None:
        return Response("not found\n", 404, mimetype="text/plain")
    d = _dashboard()
    response = Response(draw(d.months, d.fiscal_year), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = CHART_CSP
    return response


@blueprint.get("/export/kpi.csv")
def export_kpi() -> Response:
    """The month-by-month KPI figures of the fiscal year as CSV."""
    d = _dashboard()
    return _download(kpi_csv(d.months), f"kpi-{d.fiscal_year}.csv")


@blueprint.get("/export/campaigns.csv")
def export_campaigns() -> Response:
    """Each campaign run of the fiscal year with its counts as CSV."""
    d = _dashboard()
    return _download(campaigns_csv(d.campaigns), f"campaigns-{d.fiscal_year}.csv")


def _download(text: str, filename: str) -> Response:
    # The export leaves the system: record who took which file (no resident data in it).
    wiring = current_wiring()
    with transaction(wiring.session_factory) as session:
        record(session, wiring.clock.now(), g.staff_name, "export", filename)
    return Response(
        text.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@blueprint.app_template_filter("num")
def num(value: int | None) -> str:
    """A whole number with thousands commas; a dash for a month not yet begun."""
    return "—" if value is None else f"{value:,}"


@blueprint.app_template_filter("jdate")
def jdate(value) -> str:
    """「2027年3月31日」 (a datetime also gets its time: 「2026年11月25日 12:00」)."""
    text = f"{value.year}年{value.month}月{value.day}日"
    return text + value.strftime(" %H:%M") if hasattr(value, "hour") else text
