"""The plan page: coming slots (their audiences from the dashboard's snapshot), the notices as
residents will see them, and `todoku config check` for the configuration in use."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config.check import check
from bot.config.population import FILE as POPULATION_FILE
from bot.config.population import read_population
from bot.config.problems import FILES, Problem
from messages import NoticeLinks, build_notice

# A preview writes nothing and counts nothing: its links go nowhere.
PREVIEW_LINKS = NoticeLinks("https://example.invalid/", "https://example.invalid/")


@dataclass(frozen=True)
class SlotLine:
    """One coming slot: when (after the delivery window), first or reminder, audience size
    when the snapshot was computed (None: not counted then)."""

    at: datetime
    reminder: bool
    audience: int | None


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign's coming slots and the notice its next slot sends."""

    campaign_id: str
    program_name: str
    slots: list[SlotLine]
    notice: dict | None  # the LINE message object (type flex) of the next slot


@dataclass(frozen=True)
class ConfigReport:
    """`todoku config check` for the folder in use."""

    folder: str
    problems: list[Problem]
    population: bool


def plan(wiring, now: datetime, audiences: dict[tuple[str, datetime], int]) -> list[CampaignPlan]:
    """Each campaign's coming slots after `now`, with the next notice rendered.

    `audiences`: the size of each (campaign, slot) as `todoku plan` counted it for the
    dashboard's snapshot (bot.admin.snapshot): counting them here would take a second
    per slot in a large city.
    """
    config = wiring.config
    result = []
    for campaign in config.campaigns:
        program = config.program(campaign.program)
        slots = [p for p in config.planned_slots(campaign) if p.at > now]
        lines = [SlotLine(p.at, p.is_reminder, audiences.get((campaign.id, p.at))) for p in slots]
        notice = None
        if lines:
            built = build_notice(program, campaign.lead, PREVIEW_LINKS, lines[0].at.date())
            notice = built.to_dict()
        result.append(CampaignPlan(campaign.id, program.name, lines, notice))
    return result


def config_report(folder: Path) -> ConfigReport:
    """Every problem in the configuration folder, population.csv included.

    Kept per process until a file changes (mtime, size, inode, as ConfigHolder watches
    them): parsing the YAML takes ~50-200 ms, more than the rest of the plan page.
    """
    signature = _signature(Path(folder))
    with _REPORTS_LOCK:
        found = _REPORTS.get(str(folder))
    if found is not None and found[0] == signature:
        return found[1]
    config, problems = check(folder)
    districts = config.municipality.districts if config is not None else None
    population, more = read_population(folder, districts)
    report = ConfigReport(str(folder), [*problems, *more], population is not None)
    with _REPORTS_LOCK:
        _REPORTS[str(folder)] = (signature, report)
    return report


_REPORTS: dict[str, tuple[tuple, ConfigReport]] = {}
_REPORTS_LOCK = threading.Lock()


def _signature(folder: Path) -> tuple:
    found = []
    for name in (*FILES, POPULATION_FILE):
        try:
            st = os.stat(folder / name)
        except OSError:
            found.append(None)
        else:
            found.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(found)
