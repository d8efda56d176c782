"""Dashboard pages: KPIs, campaign results, the plan and previews, the audit log, exports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Response, abort, flash, g, redirect, render_template, request, url_for

from bot.admin import CHART_CSP, PREVIEW_CSP, blueprint, snapshot
from bot.admin.auth import current_wiring
from bot.admin.charts import clicks_chart, registrations_chart, visitors_chart
from bot.admin.export import audit_csv, campaigns_csv, kpi_csv
from bot.admin.planning import config_report, plan
from bot.admin.report import RUN_STATUS, shown
from bot.admin.results import ANSWER_LABELS, rate
from bot.admin.roles import ROLES, allows, requires, role_label
from bot.admin.staff import list_staff, record
from bot.errors import UserError
from bot.kpi import parse_month, record_homepage_visits
from bot.store.dashboard_queries import audit_entries
from bot.store.engine import transaction
from bot.store.models import DeliveryStatus, StaffUser

AUDIT_PAGE = 200
# linesim's renderer, served as is: the preview is drawn by the very code of the chat page.
LINESIM_STATIC = Path(importlib.util.find_spec("linesim").submodule_search_locations[0]) / "static"


# Pages that show the snapshot's figures, and where 「今すぐ更新」 returns to.
REFRESHABLE = {"index": "admin.index", "campaigns": "admin.campaigns", "plan": "admin.plan_page"}


def _snapshot() -> snapshot.Snapshot:
    # The figures as the scheduler last computed them (or computed now: see bot.admin.snapshot);
    # programs and campaigns as the staff last saved them.
    return snapshot.current(current_wiring())


def _page(template: str, **values) -> str:
    wiring = current_wiring()
    return render_template(
        template,
        municipality=wiring.config.municipality.name,
        staff=g.staff_name,
        role=g.staff_role,
        role_label=role_label,
        can=lambda needed: allows(g.staff_role, needed),
        shown=shown,
        refresh_every=snapshot.every(wiring.settings.dashboard_refresh_seconds),
        **values,
    )


@blueprint.get("/")
@requires("viewer")
def index() -> str:
    """The KPI page."""
    s = _snapshot()
    return _page("admin/index.html", d=s.dashboard, snap=s, back="index", run_status=RUN_STATUS)


@blueprint.get("/campaigns")
@requires("viewer")
def campaigns() -> str:
    """Campaign results: per campaign and per send."""
    s = _snapshot()
    return _page(
        "admin/campaigns.html",
        d=s.dashboard,
        details=s.details,
        snap=s,
        back="campaigns",
        run_status=RUN_STATUS,
        rate=rate,
        answers=ANSWER_LABELS,
        S=DeliveryStatus,
    )


@blueprint.get("/plan")
@requires("viewer")
def plan_page() -> Response:
    """The coming slots, each notice as residents will see it, the configuration check."""
    wiring = current_wiring()
    s = _snapshot()
    now = wiring.clock.now()
    with wiring.session_factory() as session:
        me = session.get(StaffUser, g.staff_id)
    body = _page(
        "admin/plan.html",
        now=now,
        snap=s,
        back="plan",
        plan=plan(wiring, now, s.audiences),
        report=config_report(wiring.settings.config_dir),
        my_line_id=me.line_user_id or "",
    )
    response = Response(body)
    # This page only runs script: linesim's Flex renderer and the few lines that call it.
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    return response


@blueprint.post("/plan/test-send")
@requires("sender")
def test_send() -> Response:
    """Send a campaign's notice, marked テスト配信, to a staff member's own LINE id."""
    from bot.dispatch.plan import staff_test_send

    wiring = current_wiring()
    campaign = wiring.config.find_campaign(request.form.get("campaign", ""))
    to = request.form.get("line_user_id", "").strip()
    if campaign is None:
        flash("配信計画を選んでください。", "error")
        return redirect(url_for("admin.plan_page"))
    try:
        staff_test_send(wiring, campaign, [to], actor=g.staff_name)
    except UserError as error:
        flash(f"テスト配信できませんでした: {error}", "error")
        return redirect(url_for("admin.plan_page"))
    with transaction(wiring.session_factory) as session:
        session.get(StaffUser, g.staff_id).line_user_id = to  # remembered for next time
    flash(f"「{campaign.id}」のテスト配信を送りました。LINEで確認してください。", "done")
    return redirect(url_for("admin.plan_page"))


@blueprint.post("/refresh")
@requires("sender")
def refresh() -> Response:
    """「今すぐ更新」: count every figure now instead of waiting for the scheduler's next run."""
    wiring = current_wiring()
    target = REFRESHABLE.get(request.form.get("back", ""), "admin.index")
    s = snapshot.request(wiring, g.staff_name)
    if s is None:
        flash(
            "集計の更新を依頼しました。数十秒ほどで新しい数字になります。"
            "しばらくしてから、ページを読み込み直してください。",
            "done",
        )
    else:
        flash(f"集計を更新しました（{s.label}）。", "done")
    return redirect(url_for(target))


@blueprint.post("/visits")
@requires("sender")
def record_visits() -> Response:
    """Enter a month's website visitors from the city's web analytics."""
    wiring = current_wiring()
    try:
        month = parse_month(request.form.get("month", ""))
        count = request.form.get("visitors", "").replace(",", "").strip()
        if not count.isdigit():
            raise UserError("訪問者数は 0 以上の整数で入力してください。")
        record_homepage_visits(
            wiring.session_factory, month, int(count), wiring.clock.now(), g.staff_name
        )
    except UserError as error:
        flash(f"記録できませんでした: {error}", "error")
    else:
        snapshot.invalidate(wiring)  # counted again by the scheduler, or by the next page
        flash(
            f"{month.year}年{month.month}月のHP訪問者数を {int(count):,} 人として記録しました。",
            "done",
        )
    return redirect(url_for("admin.index") + "#kpi-visits")


@blueprint.get("/audit")
@requires("admin")
def audit() -> str:
    """The audit log, newest first (admins only)."""
    wiring = current_wiring()
    before = request.args.get("before", type=int)
    with wiring.session_factory() as session:
        entries = list(session.scalars(audit_entries(AUDIT_PAGE, before)))
    return _page("admin/audit.html", entries=entries, page=AUDIT_PAGE)


@blueprint.get("/staff")
@requires("admin")
def staff_list() -> str:
    """Staff logins and their roles (changed with `todoku staff ...`)."""
    with current_wiring().session_factory() as session:
        members = list_staff(session)
    return _page("admin/staff.html", members=members, roles=ROLES)


@blueprint.get("/flex.js")
@requires("viewer")
def flex_js() -> Response:
    """linesim's LINE message renderer (the chat page's own file)."""
    return _static(LINESIM_STATIC / "flex.js", "text/javascript")


@blueprint.get("/flex.css")
@requires("viewer")
def flex_css() -> Response:
    """linesim's styles for rendered LINE messages."""
    return _static(LINESIM_STATIC / "flex.css", "text/css")


def _static(path: Path, mimetype: str) -> Response:
    return Response(path.read_bytes(), mimetype=mimetype)


@blueprint.get("/charts/<name>.svg")
@requires("viewer")
def chart(name: str) -> Response:
    """A monthly chart of the current fiscal year as SVG (?size=phone: for narrow screens)."""
    draw = {
        "registrations": registrations_chart,
        "clicks": clicks_chart,
        "visitors": visitors_chart,
    }.get(name)
    if draw is None:
        abort(404)
    d = _snapshot().dashboard
    phone = request.args.get("size") == "phone"
    response = Response(draw(d, phone=phone), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = CHART_CSP
    return response


@blueprint.get("/export/kpi.csv")
@requires("viewer")
def export_kpi() -> Response:
    """The month-by-month KPI figures of the fiscal year as CSV (the snapshot's, as the page)."""
    d = _snapshot().dashboard
    return _download(kpi_csv(d), f"kpi-{d.fiscal_year}.csv")


@blueprint.get("/export/campaigns.csv")
@requires("viewer")
def export_campaigns() -> Response:
    """Each campaign run of the fiscal year with its counts as CSV (the snapshot's, as the page)."""
    d = _snapshot().dashboard
    return _download(campaigns_csv(d.campaigns), f"campaigns-{d.fiscal_year}.csv")


@blueprint.get("/export/audit.csv")
@requires("admin")
def export_audit() -> Response:
    """The whole audit log as CSV (admins only)."""
    wiring = current_wiring()
    with wiring.session_factory() as session:
        entries = list(session.scalars(audit_entries(None)))
    return _download(audit_csv(entries), f"audit-{wiring.clock.now():%Y%m%d}.csv")


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


@blueprint.app_template_filter("pct")
def pct(value: float | None) -> str:
    """「12.5%」, or a dash when there is nothing to divide."""
    return "—" if value is None else f"{value:.1f}%"


@blueprint.app_template_filter("jdate")
def jdate(value) -> str:
    """「2027年3月31日」 (a datetime also gets its time: 「2026年11月25日 12:00」)."""
    text = f"{value.year}年{value.month}月{value.day}日"
    return text + value.strftime(" %H:%M") if hasattr(value, "hour") else text
