"""The KPI figures of the DX plan, computed from the database (`todoku kpi`, dashboard)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy.orm import Session

from bot.clock import TOKYO, tokyo
from bot.errors import UserError
from bot.store import dashboard_queries
from bot.store.engine import transaction
from bot.store.models import AuditEntry, DeliveryStatus, HomepageVisits
from segments.calendar import fiscal_year


@dataclass(frozen=True)
class KpiFigures:
    """What `todoku kpi --json` prints (contracts.md names the first three)."""

    registrations: int
    followers: int
    programs_distributed: int
    consented: int
    deletions: int
    unfollows: int
    purged: int
    fiscal_year: int
    registrations_target: int | None
    programs_distributed_target: int | None
    # Taps on notices' homepage links this calendar month: the bot's share of HP visits.
    homepage_visits_this_month: int = 0
    homepage_visits_per_month_target: int | None = None
    # registrations split: account holders themselves and family profiles (代理受信); each
    # profile counts once, as a registration of its own (self + family = registrations).
    registrations_self: int = 0
    registrations_family: int = 0
    # Catch-up notices sent this fiscal year (residents eligible after a slot ran); they
    # are part of every other delivery figure too.
    catchup_sent: int = 0
    # The city website's visitors (web analytics, entered by staff) in the latest month
    # entered ("YYYY-MM"), the taps from notices in that month and their share in percent.
    homepage_visitors_month: str | None = None
    homepage_visitors: int | None = None
    homepage_visits_via_line_that_month: int | None = None
    line_share_percent: float | None = None


def compute_kpis(session: Session, now: datetime, config=None) -> KpiFigures:
    """Count registrations, followers, deletions and programs distributed this fiscal year."""
    year = fiscal_year(now.astimezone(TOKYO).date())
    fy_start = datetime.combine(date(year, 4, 1), time(), TOKYO)

    registrations, family, followers, consented_following = session.execute(
        dashboard_queries.resident_counts()
    ).one()

    def activity(kind: str) -> int:
        return session.scalar(dashboard_queries.activity_count(kind)) or 0

    # Programs with a notice sent this fiscal year (from the cached per-program figures).
    programs = len(sent_by_program(session, year))
    kpi = getattr(config, "kpi", None)
    return KpiFigures(
        registrations=int(registrations),
        registrations_self=int(registrations) - int(family),
        registrations_family=int(family),
        followers=int(followers),
        programs_distributed=programs or 0,
        consented=int(consented_following),
        deletions=activity("deleted"),
        unfollows=activity("unfollow"),
        purged=activity("purged"),
        fiscal_year=fy_start.year,
        registrations_target=_target(kpi, "registrations"),
        programs_distributed_target=_target(kpi, "programs_distributed"),
        homepage_visits_this_month=homepage_visits_in_month(session, now),
        homepage_visits_per_month_target=getattr(kpi, "homepage_visits_per_month", None),
        catchup_sent=catchup_sent(session, fy_start),
        **_latest_visitors(session, now),
    )


def catchup_sent(session: Session, since: datetime) -> int:
    """Catch-up notices sent since `since`."""
    return session.scalar(dashboard_queries.catchup_sent_since(since)) or 0


def _latest_visitors(session: Session, now: datetime) -> dict:
    latest = session.execute(dashboard_queries.latest_homepage_visits()).first()
    if latest is None:
        return {}
    month, visitors = latest
    via_line = homepage_visits_in_month(session, datetime.combine(month, time(12), TOKYO))
    return {
        "homepage_visitors_month": f"{month:%Y-%m}",
        "homepage_visitors": visitors,
        "homepage_visits_via_line_that_month": via_line,
        "line_share_percent": line_share(via_line, visitors),
    }


def line_share(via_line: int | None, visitors: int | None) -> float | None:
    """Taps from notices as a share of all visitors, in percent with one decimal."""
    if via_line is None or not visitors:
        return None
    return round(via_line * 100 / visitors, 1)


def homepage_visitors_by_month(session: Session, year: int) -> list[int | None]:
    """The entered website visitors for each month of fiscal year `year` (None: not entered)."""
    months = fiscal_months(year)
    end = date(year + 1, 4, 1)
    entered = dict(session.execute(dashboard_queries.homepage_visits_between(months[0], end)).all())
    return [entered.get(m) for m in months]


def parse_month(text: str) -> date:
    """2026-11 → 2026-11-01; UserError for anything else."""
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise UserError(f"--month '{text}' is not a month; write it like 2026-11") from None


def record_homepage_visits(factory, month: date, visitors: int, now: datetime, actor: str) -> None:
    """Store (or correct) one month's website visitors; audited with the old figure."""
    if visitors < 0:
        raise UserError("the visitor count cannot be negative")
    today = now.astimezone(TOKYO).date()
    if month > today.replace(day=1):
        raise UserError(f"{month:%Y-%m} has not begun yet; enter a month up to {today:%Y-%m}")
    with transaction(factory) as session:
        row = session.get(HomepageVisits, month)
        before = None if row is None else row.visitors
        if row is None:
            session.add(
                HomepageVisits(month=month, visitors=visitors, recorded_at=now, recorded_by=actor)
            )
        else:
            row.visitors, row.recorded_at, row.recorded_by = visitors, now, actor
        detail = f"month={month:%Y-%m} visitors={visitors}" + (
            f" (was {before})" if before is not None else ""
        )
        session.add(AuditEntry(at=now, actor=actor, action="homepage_visits", detail=detail))


def homepage_visits_in_month(session: Session, now: datetime) -> int:
    """Taps on notices' homepage links in the Asia/Tokyo calendar month of `now`."""
    day = now.astimezone(TOKYO).date()
    start = datetime.combine(day.replace(day=1), time(), TOKYO)
    end = datetime.combine(date(day.year + day.month // 12, day.month % 12 + 1, 1), time(), TOKYO)
    return session.scalar(dashboard_queries.homepage_clicks_between(start, end)) or 0


def _target(kpi, name: str) -> int | None:
    item = getattr(kpi, name, None)
    return getattr(item, "target", None)


# --- Figures per month and per campaign, for the dashboard and its CSV exports -------------
#
# Months are Asia/Tokyo calendar months. Every query compares timestamps with aware
# Asia/Tokyo bounds: exact on PostgreSQL (timestamptz); on SQLite, which stores wall-clock
# text without an offset, it matches because Todoku writes times from its clock (Tokyo).

# Every delivery status, in the order the dashboard and `kpi` list them.
DELIVERY_STATUSES = tuple(DeliveryStatus)[2:] + tuple(DeliveryStatus)[:2]
ACTIVITY_KINDS = ("follow", "unfollow", "consent", "registered", "deleted", "purged")
CLICK_LINKS = ("homepage", "apply")


def fiscal_months(year: int) -> list[date]:
    """The first day of each month of fiscal year `year` (April to March)."""
    return [date(year + (m < 4), m, 1) for m in (*range(4, 13), 1, 2, 3)]


def month_bounds(year: int) -> list[datetime]:
    """13 moments: the start of each month of the fiscal year, then the start of the next."""
    starts = [*fiscal_months(year), date(year + 1, 4, 1)]
    return [datetime.combine(day, time(), TOKYO) for day in starts]


def monthly_activity(session: Session, year: int) -> dict[str, list[int]]:
    """Anonymous facts per kind and month (follow, unfollow, registered, deleted, ...)."""
    query = dashboard_queries.activity_per_month(month_bounds(year))
    counts = {kind: [0] * 12 for kind in ACTIVITY_KINDS}
    for kind, *months in session.execute(query):
        counts[kind] = [int(n) for n in months]
    return counts


# Figures over the deliveries and clicks of a fiscal year are kept per process and reused
# while the data version (dashboard_queries.deliveries_version: a few index lookups) is
# unchanged: at 10,000,000 deliveries one pass takes seconds, the version milliseconds.
_CACHE: dict[tuple, tuple[tuple, object]] = {}
_CACHE_LOCK = threading.Lock()


def data_version(session: Session) -> tuple:
    """A value that changes whenever a figure over deliveries or clicks may change."""
    parts = [
        tuple(map(tuple, session.execute(q).all())) for q in dashboard_queries.deliveries_version()
    ]
    return (str(session.get_bind().url), *parts)


def _cached(session: Session, name: str, year: int, compute):
    version = data_version(session)
    with _CACHE_LOCK:
        found = _CACHE.get((name, year))
    if found is not None and found[0] == version:
        return found[1]
    value = compute()
    with _CACHE_LOCK:
        _CACHE[(name, year)] = (version, value)
    return value


def cached(session: Session, name: str, year: int, compute):
    """`compute()`, reused while the data version is unchanged: only for figures that
    depend on nothing but the deliveries' ids and final statuses, the clicks and the runs."""
    return _cached(session, name, year, compute)


def clear_cache() -> None:
    """Forget the cached figures (tests that rewrite history use it)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _sent_by_program(session: Session, year: int) -> dict[str, tuple[datetime, list[int]]]:
    query = dashboard_queries.sent_per_program_and_month(month_bounds(year))
    return {
        program: (tokyo(first), [int(n) for n in months])
        for program, first, *months in session.execute(query)
    }


def sent_by_program(session: Session, year: int) -> dict[str, tuple[datetime, list[int]]]:
    """Each program with notices sent in the fiscal year: (first send, sends per month)."""
    return _cached(session, "sent", year, lambda: _sent_by_program(session, year))


def monthly_sent(session: Session, year: int) -> list[int]:
    """Notices delivered (status sent) per month, by the moment they were sent."""
    per_program = sent_by_program(session, year).values()
    return [sum(months[i] for _, months in per_program) for i in range(12)]


def monthly_clicks(session: Session, year: int) -> dict[str, list[int]]:
    """Taps on notices' links per link kind ('homepage', 'apply') and month."""
    return _cached(session, "clicks", year, lambda: _monthly_clicks(session, year))


def _monthly_clicks(session: Session, year: int) -> dict[str, list[int]]:
    query = dashboard_queries.clicks_per_link_and_month(month_bounds(year))
    counts = {link: [0] * 12 for link in CLICK_LINKS}
    for link, *months in session.execute(query):
        counts[link] = [int(n) for n in months]
    return counts


def programs_first_sent(session: Session, year: int) -> dict[str, datetime]:
    """Each program with a notice delivered in the fiscal year, and when the first went out."""
    return {program: first for program, (first, _) in sent_by_program(session, year).items()}


def registrations_by_month_end(session: Session, year: int) -> list[int]:
    """Of today's registrations, how many had registered by the end of each month."""
    row = session.execute(dashboard_queries.registered_before_each(month_bounds(year)[1:])).one()
    return [int(n) for n in row]


@dataclass(frozen=True)
class RunFigures:
    """One campaign run with its deliveries per status and its clicks per link."""

    run_id: int
    campaign_id: str
    program_id: str
    slot_at: datetime
    status: str
    reminder: bool
    deliveries: dict[str, int]
    clicks: dict[str, int]
    kind: str = "slot"  # RunKind: "catchup" = the day's notices to residents eligible later


def campaign_runs(session: Session, year: int) -> list[RunFigures]:
    """Every campaign run with a slot in the fiscal year, oldest first, with its counts."""
    return _cached(session, "runs", year, lambda: _campaign_runs(session, year))


def _campaign_runs(session: Session, year: int) -> list[RunFigures]:
    query = dashboard_queries.runs_with_status_counts(month_bounds(year), DELIVERY_STATUSES)
    rows = session.execute(query).all()
    clicks = _clicks_per_run(session, [row[0] for row in rows])
    return [
        RunFigures(
            *row[:3],
            slot_at=tokyo(row[3]),
            status=row[4],
            reminder=row[5],
            kind=row[6],
            deliveries=dict(zip(DELIVERY_STATUSES, map(int, row[7:]), strict=True)),
            clicks=clicks.get(row[0], dict.fromkeys(CLICK_LINKS, 0)),
        )
        for row in rows
    ]


def _clicks_per_run(session: Session, run_ids: list[int]) -> dict[int, dict[str, int]]:
    if not run_ids:
        return {}
    query = dashboard_queries.clicks_per_run(run_ids)
    found: dict[int, dict[str, int]] = {}
    for run_id, link, n in session.execute(query):
        found.setdefault(run_id, dict.fromkeys(CLICK_LINKS, 0))[link] = int(n)
    return found
