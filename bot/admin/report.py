"""The dashboard's figures: KPI progress, months of the fiscal year, campaigns (no SQL here)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from bot import kpi
from bot.admin.coverage import Coverage, coverage
from bot.config.population import Population
from bot.store.models import DeliveryStatus, RunStatus

# Counts of 1 to 9 in a breakdown (by district, by campaign) are shown as this: in a small
# city such a count can point at a person. LINE itself hides audiences under 20.
SMALL = "10未満"
DAYS_PER_MONTH = 365.25 / 12
RUN_STATUS = {
    RunStatus.RUNNING: "準備中",
    RunStatus.SENDING: "送信中",
    RunStatus.DONE: "完了",
    RunStatus.STOPPED: "中止",
    RunStatus.EXPIRED: "期限切れ",
}
DELIVERY_STATUS = {
    DeliveryStatus.SENT: "送信済み",
    DeliveryStatus.DEFERRED: "延期",
    DeliveryStatus.FAILED: "失敗",
    DeliveryStatus.SKIPPED: "見送り",
    DeliveryStatus.UNKNOWN: "不明",
    DeliveryStatus.PENDING: "送信待ち",
    DeliveryStatus.SENDING: "送信中",
}


def suppressed(count: int) -> int | str:
    """A count in a breakdown, or「10未満」for 1 to 9 (for CSV: numbers stay numbers)."""
    return SMALL if 1 <= count <= 9 else count


def shown(count: int) -> str:
    """A count in a breakdown for the page: 1 to 9 as「10未満」, others with thousands commas."""
    value = suppressed(count)
    return value if isinstance(value, str) else f"{value:,}"


@dataclass(frozen=True)
class Progress:
    """A figure against its target and deadline."""

    value: int
    target: int
    by: date | None
    per_month_needed: int | None  # None: reached, or the deadline has passed

    @property
    def percent(self) -> int:
        """Share of the target reached, in whole percent (at most 100)."""
        return min(100, self.value * 100 // self.target) if self.target else 100

    @property
    def remaining(self) -> int:
        """How many are still missing (0 when reached)."""
        return max(0, self.target - self.value)


def progress(value: int, target, today: date) -> Progress | None:
    """Progress toward a config Target (target, by); None when no target is configured."""
    if target is None:
        return None
    remaining = max(0, target.target - value)
    months_left = (target.by - today).days / DAYS_PER_MONTH
    needed = math.ceil(remaining / months_left) if remaining and months_left > 0 else None
    return Progress(value, target.target, target.by, needed)


@dataclass(frozen=True)
class Month:
    """One month of the fiscal year; figures are None for months not yet begun."""

    first_day: date
    started: bool
    follows: int | None
    unfollows: int | None
    registered: int | None
    deleted: int | None
    sent: int | None
    programs_cumulative: int | None
    homepage: int | None
    apply: int | None
    registrations_cumulative: int | None
    visitors: int | None = None  # the city website's visitors, entered by staff

    @property
    def line_share(self) -> float | None:
        """Taps from notices as a share of the month's website visitors (percent)."""
        return kpi.line_share(self.homepage, self.visitors)

    @property
    def label(self) -> str:
        """「2026年4月」."""
        return f"{self.first_day.year}年{self.first_day.month}月"


def months(session: Session, year: int, today: date) -> list[Month]:
    """Every month of fiscal year `year` with its counts."""
    activity = kpi.monthly_activity(session, year)
    sent = kpi.monthly_sent(session, year)
    clicks = kpi.monthly_clicks(session, year)
    first_sent = sorted(kpi.programs_first_sent(session, year).values())
    cumulative = kpi.registrations_by_month_end(session, year)
    visitors = kpi.homepage_visitors_by_month(session, year)
    rows = []
    for i, first_day in enumerate(kpi.fiscal_months(year)):
        started = first_day <= today
        end = kpi.month_bounds(year)[i + 1]

        def value(n, started=started):
            return n if started else None

        rows.append(
            Month(
                first_day,
                started,
                value(activity["follow"][i]),
                value(activity["unfollow"][i]),
                value(activity["registered"][i]),
                value(activity["deleted"][i]),
                value(sent[i]),
                value(sum(1 for at in first_sent if at < end)),
                value(clicks["homepage"][i]),
                value(clicks["apply"][i]),
                value(cumulative[i]),
                visitors[i],
            )
        )
    return rows


@dataclass(frozen=True)
class CampaignLine:
    """A campaign with its program, next slot and runs this fiscal year."""

    campaign_id: str
    program_name: str
    next_slot: datetime | None
    runs: list[kpi.RunFigures]

    def total(self, status: str) -> int:
        """Deliveries with `status` over all runs."""
        return sum(run.deliveries[status] for run in self.runs)

    def clicks(self, link: str) -> int:
        """Clicks on `link` over all runs."""
        return sum(run.clicks[link] for run in self.runs)


def campaigns(session: Session, config, year: int, now: datetime) -> list[CampaignLine]:
    """Configured campaigns in file order, then campaigns that only past runs still name."""
    runs = kpi.campaign_runs(session, year)
    lines = []
    for campaign in config.campaigns:
        coming = [at for at in config.slot_times(campaign) if at >= now]
        lines.append(
            CampaignLine(
                campaign.id,
                program_name(config, campaign.program),
                coming[0] if coming else None,
                [run for run in runs if run.campaign_id == campaign.id],
            )
        )
    known = {c.id for c in config.campaigns}
    for gone in dict.fromkeys(run.campaign_id for run in runs if run.campaign_id not in known):
        mine = [run for run in runs if run.campaign_id == gone]
        lines.append(CampaignLine(gone, program_name(config, mine[0].program_id), None, mine))
    return lines


def program_name(config, program_id: str) -> str:
    """The program's name from the configuration, or its id if it was removed since."""
    program = config.find_program(program_id)
    return program.name if program else program_id


@dataclass(frozen=True)
class Dashboard:
    """Everything the KPI page shows."""

    now: datetime
    fiscal_year: int
    figures: kpi.KpiFigures
    registrations: Progress | None
    programs: Progress | None
    programs_sent: list[tuple[str, datetime]]  # (program name, first delivery) this year
    visits_target: int | None
    this_month: Month
    last_month: Month | None
    months: list[Month]
    districts: list[tuple[str, int]]
    campaigns: list[CampaignLine]
    coverage: Coverage | None = None

    @property
    def year_label(self) -> str:
        """「令和8年度（2026年度）」."""
        return fiscal_label(self.fiscal_year)

    @property
    def latest_visitors(self) -> Month | None:
        """The newest month whose website visitors were entered."""
        entered = [m for m in self.months if m.visitors is not None]
        return entered[-1] if entered else None


def fiscal_label(year: int) -> str:
    """「令和8年度（2026年度）」: the Japanese era first, as staff write it."""
    era = year - 2018
    return f"令和{'元' if era == 1 else era}年度（{year}年度）"


def dashboard(
    session: Session,
    config,
    now: datetime,
    population: Population | None = None,
    *,
    parts: frozenset[str] = frozenset({"campaigns", "coverage"}),
) -> Dashboard:
    """Gather the KPI page's figures at `now` (Asia/Tokyo)."""
    figures = kpi.compute_kpis(session, now, config)
    today = now.astimezone(kpi.TOKYO).date()
    year = figures.fiscal_year
    rows = months(session, year, today)
    index = (today.month - 4) % 12
    first_sent = kpi.programs_first_sent(session, year)
    # `parts`: what the page needs beyond the KPIs and months (a chart needs neither).
    reach = None
    if "coverage" in parts:
        reach = coverage(session, tuple(config.municipality.districts), population, today)
    districts = [(r.label, r.registered) for r in reach.districts] if reach else []
    return Dashboard(
        now=now,
        fiscal_year=year,
        figures=figures,
        registrations=progress(figures.registrations, config.kpi.registrations, today),
        programs=progress(figures.programs_distributed, config.kpi.programs_distributed, today),
        programs_sent=sorted(
            ((program_name(config, p), at) for p, at in first_sent.items()), key=lambda x: x[1]
        ),
        visits_target=config.kpi.homepage_visits_per_month,
        this_month=rows[index],
        last_month=rows[index - 1] if index else None,
        months=rows,
        districts=districts,
        campaigns=campaigns(session, config, year, now) if "campaigns" in parts else [],
        coverage=reach,
    )
