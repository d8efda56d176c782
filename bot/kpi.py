"""The KPI figures of the DX plan, computed from the database (`todoku kpi`, dashboard)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.clock import TOKYO
from bot.models import Delivery, Resident, ResidentActivity


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


def fiscal_year_start(day: date) -> date:
    """1 April of the fiscal year (年度) that contains `day`."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def compute_kpis(session: Session, now: datetime, config=None) -> KpiFigures:
    """Count registrations, followers, deletions and programs distributed this fiscal year."""
    following = Resident.following.is_(True)
    consented = Resident.consented_at.is_not(None)
    registered = consented & Resident.registered_at.is_not(None) & following
    fy_start = datetime.combine(fiscal_year_start(now.astimezone(TOKYO).date()), time(), TOKYO)

    def count(*where) -> int:
        return session.scalar(select(func.count()).select_from(Resident).where(*where)) or 0

    def activity(kind: str) -> int:
        query = select(func.count()).where(ResidentActivity.kind == kind)
        return session.scalar(query) or 0

    programs = session.scalar(
        select(func.count(distinct(Delivery.program_id))).where(
            Delivery.status == "sent", Delivery.sent_at >= fy_start
        )
    )
    kpi = getattr(config, "kpi", None)
    return KpiFigures(
        registrations=count(registered),
        followers=count(following),
        programs_distributed=programs or 0,
        consented=count(consented, following),
        deletions=activity("deleted"),
        unfollows=activity("unfollow"),
        purged=activity("purged"),
        fiscal_year=fy_start.year,
        registrations_target=_target(kpi, "registrations"),
        programs_distributed_target=_target(kpi, "programs_distributed"),
    )


def _target(kpi, name: str) -> int | None:
    item = getattr(kpi, name, None)
    return getattr(item, "target", None)


def kpi_command(wiring, as_json: bool) -> int:
    """Print the KPI figures (JSON or a short table); exit code 0."""
    with wiring.session_factory() as session:
        figures = compute_kpis(session, wiring.clock.now(), wiring.config)
    if as_json:
        print(json.dumps(asdict(figures), ensure_ascii=False))
        return 0
    rows = [
        ("登録者数 (registrations)", figures.registrations, figures.registrations_target),
        ("友だち数 (followers)", figures.followers, None),
        (
            "配信した制度数 (programs distributed)",
            figures.programs_distributed,
            figures.programs_distributed_target,
        ),
        ("削除 (deletions)", figures.deletions, None),
        ("ブロック (unfollows)", figures.unfollows, None),
        ("ブロック後の自動削除 (purged)", figures.purged, None),
    ]
    print(f"{figures.fiscal_year}年度")
    for label, value, target in rows:
        print(f"  {label}: {value}" + (f" / 目標 {target}" if target else ""))
    return 0
