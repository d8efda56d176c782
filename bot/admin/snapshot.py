"""The dashboard's figures computed ahead of the pages: a snapshot stored in the database.

Counting a million residents and ten million deliveries takes seconds; a page must answer
in a fraction of one. So the active scheduler recomputes every figure the pages show (the
KPI page and its charts, campaign results, the plan's audience per coming slot, coverage)
every TODOKU_DASHBOARD_REFRESH_SECONDS (default 60) and stores them as one row; each page
reads that row and says when it was computed (「11月22日 10時00分時点の集計」).

Refresh policy. The scheduler looks every few seconds (`tick`) and recomputes when the
snapshot is an interval old (or twice its own counting time, if longer: `period`), was
computed under another configuration, or someone asked for it. A page (`current`) uses
the stored snapshot when it was computed under the configuration in use, in the last
five periods, and not after `now` (a clock set back), unless it was asked for and no
scheduler is active. Otherwise (no scheduler running, a city running `serve` only, a
configuration just edited, a snapshot from an older release) the page computes the
figures itself and stores them for the next pages; if that fails (the web process's
statement timeout at a large city's scale) it shows the last snapshot with its time and
says it is old. Staff with the sender role may ask for a refresh (「今すぐ更新」,
`request`): with a scheduler active it recomputes at its next look, otherwise the
request computes at once. `todoku kpi` always counts live (bot.kpi); the two agree, as
both come from the same functions.

Owns: the snapshot's contents and their JSON form (no SQL here: bot.store.dashboard_queries).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import DBAPIError

from bot import kpi
from bot.admin.coverage import Coverage, Reach
from bot.admin.report import CampaignLine, Dashboard, Month, Progress, dashboard
from bot.admin.results import RunDetail, run_details
from bot.admin.staff import record
from bot.clock import tokyo
from bot.config.population import FILE as POPULATION_FILE
from bot.config.population import read_population
from bot.logs import get_logger
from bot.store.dashboard_queries import (
    lease_until,
    request_snapshot,
    snapshot_named,
    snapshot_times,
    store_snapshot,
)
from bot.store.engine import transaction

log = get_logger("todoku.dashboard")

NAME = "dashboard"
# Raised whenever the stored shape changes: a snapshot of another release is recomputed.
FORMAT = 1
# A snapshot older than this many refresh intervals means no scheduler keeps it: recompute.
STALE_INTERVALS = 5
JOB_ID = "dashboard-snapshot"
# How often the scheduler looks whether the snapshot is due or was asked for (one small
# query by primary key); the refresh itself runs every TODOKU_DASHBOARD_REFRESH_SECONDS.
POLL_SECONDS = 5
LEASE_NAME = "scheduler"  # bot.dispatch.scheduler's lease: a scheduler is active


@dataclass(frozen=True)
class Snapshot:
    """Every figure the dashboard's pages show, as computed at `computed_at`."""

    computed_at: datetime
    took_ms: int
    config_key: str
    dashboard: Dashboard  # with campaigns and coverage
    details: dict[int, RunDetail]  # answers, reasons, send times per run id
    audiences: dict[tuple[str, datetime], int]  # (campaign id, slot) → audience size then
    requested_at: datetime | None = None  # staff asked for a newer one (not done yet)
    old: bool = False  # shown although too old: counting now failed (see `current`)
    # How long each part took to count (logged; not stored).
    parts_ms: dict[str, int] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def pending(self) -> bool:
        """Someone asked for newer figures (「今すぐ更新」, a figure entered) since."""
        return self.requested_at is not None

    @property
    def label(self) -> str:
        """「11月22日 10時05分時点の集計」."""
        return as_of(self.computed_at)


def as_of(moment: datetime) -> str:
    """「11月22日 10時05分時点の集計」 (Asia/Tokyo)."""
    at = tokyo(moment)
    return f"{at.month}月{at.day}日 {at.hour}時{at.minute:02d}分時点の集計"


def every(seconds: int) -> str | None:
    """「1分ごと」, 「30秒ごと」: how often the figures are recomputed, for the pages (None:
    snapshots are off, every page counts)."""
    if not seconds:
        return None
    if seconds % 60 == 0:
        return f"{seconds // 60}分ごと"
    return f"{seconds}秒ごと"


# --- Computing and storing ----------------------------------------------------------------


def compute(wiring) -> Snapshot:
    """Count every figure now, live (as `todoku kpi` and `todoku plan` do)."""
    from bot.dispatch.plan import coming_slots

    wiring.refresh_config()
    config = wiring.config
    now = wiring.clock.now()
    start = time.perf_counter()
    parts = {}

    def lap(name: str, began: float) -> float:
        parts[name] = round((time.perf_counter() - began) * 1000)
        return time.perf_counter()

    folder = wiring.settings.config_dir
    population, _ = read_population(folder, config.municipality.districts)
    began = start
    with wiring.session_factory() as session:
        figures = dashboard(session, config, now, population)
        began = lap("kpi_ms", began)
        details = run_details(session, figures.campaigns, figures.fiscal_year)
        began = lap("details_ms", began)
    audiences = {
        (campaign.id, planned.at): size
        for campaign, slots in coming_slots(wiring, now)
        for planned, size in slots
    }
    lap("plan_ms", began)
    took_ms = round((time.perf_counter() - start) * 1000)
    return Snapshot(now, took_ms, config_key(wiring), figures, details, audiences, parts_ms=parts)


def store(wiring, snapshot: Snapshot) -> None:
    """Write the snapshot as the one every page reads next."""
    values = {
        "name": NAME,
        "computed_at": snapshot.computed_at,
        "took_ms": snapshot.took_ms,
        "config_key": snapshot.config_key,
        "figures": {
            "format": FORMAT,
            "dashboard": encode(snapshot.dashboard),
            "details": encode(snapshot.details),
            "audiences": encode(snapshot.audiences),
        },
    }
    with transaction(wiring.session_factory) as session:
        store_snapshot(session.connection(), values)


def refresh(wiring) -> Snapshot:
    """Compute the figures now and store them (the scheduler's job, 「今すぐ更新」)."""
    snapshot = compute(wiring)
    store(wiring, snapshot)
    return snapshot


def stored(wiring) -> Snapshot | None:
    """The stored snapshot, or None (none yet, or written by a release of another shape)."""
    with wiring.session_factory() as session:
        row = session.scalar(snapshot_named(NAME))
        if row is None:
            return None
        at, took_ms, key, figures = row.computed_at, row.took_ms, row.config_key, row.figures
        requested_at = row.requested_at
    if not isinstance(figures, dict) or figures.get("format") != FORMAT:
        return None
    try:
        return Snapshot(
            tokyo(at),
            took_ms,
            key,
            decode(figures["dashboard"]),
            decode(figures["details"]),
            decode(figures["audiences"]),
            tokyo(requested_at) if requested_at else None,
        )
    except (KeyError, TypeError, ValueError):  # a shape this release does not know
        return None


def current(wiring) -> Snapshot:
    """The figures for a page: the stored snapshot while it is usable, else computed now."""
    interval = wiring.settings.dashboard_refresh_seconds
    if interval == 0:  # snapshots switched off: every page counts live, as before
        return compute(wiring)
    wiring.refresh_config()
    found = stored(wiring)
    now = wiring.clock.now()
    if (
        found is not None
        and usable(found, now, interval, config_key(wiring))
        and not (found.pending and not scheduler_active(wiring, now))
    ):
        return found
    try:
        return refresh(wiring)
    except DBAPIError:
        if found is None:
            raise
        # Counting now took longer than the web process may (a large city whose scheduler
        # is down): the last figures, with their time, beat an error page.
        log.warning("dashboard_live_failed", shown_from=found.computed_at.isoformat())
        return dataclasses.replace(found, old=True)


def scheduler_active(wiring, now: datetime) -> bool:
    """Does a scheduler hold its lease now (and so refresh the snapshot)?"""
    with wiring.session_factory() as session:
        until = session.scalar(lease_until(LEASE_NAME))
    return until is not None and tokyo(until) > now


def invalidate(wiring) -> None:
    """Ask for newer figures (a figure was entered): the scheduler refreshes within seconds,
    or without one, the next page counts them itself."""
    with transaction(wiring.session_factory) as session:
        session.execute(request_snapshot(NAME, wiring.clock.now()))


def request(wiring, actor: str | None = None) -> Snapshot | None:
    """「今すぐ更新」: with a scheduler active, ask it (None); else count now (the snapshot).

    Audited as `actor` (None: part of another audited action, e.g. entering HP visitors).
    """
    now = wiring.clock.now()
    active = scheduler_active(wiring, now)
    with transaction(wiring.session_factory) as session:
        if (
            active
            and wiring.settings.dashboard_refresh_seconds
            and session.execute(request_snapshot(NAME, now)).rowcount == 1
        ):
            if actor is not None:
                record(session, now, actor, "dashboard_refresh_requested")
            return None
    snapshot = refresh(wiring)
    if actor is not None:
        with transaction(wiring.session_factory) as session:
            record(session, now, actor, "dashboard_refreshed", f"took_ms={snapshot.took_ms}")
    return snapshot


def period(interval: int, took_ms: int) -> timedelta:
    """How often the scheduler refreshes: every `interval` seconds, but never spending more
    than half the time counting (a large city whose refresh takes 40 s: every 80 s)."""
    return max(timedelta(seconds=interval), timedelta(milliseconds=2 * took_ms))


def usable(snapshot: Snapshot, now: datetime, interval: int, key: str) -> bool:
    """Computed under this configuration, recently enough, and not in the future."""
    age = now - snapshot.computed_at
    limit = STALE_INTERVALS * period(interval, snapshot.took_ms)
    return snapshot.config_key == key and timedelta(0) <= age <= limit


_KEY_CACHE: dict[str, tuple[object, bytes | None, str]] = {}


def config_key(wiring) -> str:
    """A digest of the configuration in use and population.csv: what the figures depend
    on besides the database (program names, targets, slots, districts, population)."""
    config = wiring.config
    path = wiring.settings.config_dir / POPULATION_FILE
    try:
        population = path.read_bytes()
    except OSError:
        population = None
    cached = _KEY_CACHE.get(str(wiring.settings.config_dir))
    if cached is not None and cached[0] is config and cached[1] == population:
        return cached[2]
    digest = hashlib.sha256(config.model_dump_json().encode())
    digest.update(b"\0" + (population if population is not None else b"-"))
    key = digest.hexdigest()
    _KEY_CACHE[str(wiring.settings.config_dir)] = (config, population, key)
    return key


# --- The scheduler's job ---------------------------------------------------------------


def due(wiring) -> bool:
    """Is a refresh due: none yet, a period old, another configuration, or asked for?"""
    wiring.refresh_config()
    with wiring.session_factory() as session:
        row = session.execute(snapshot_times(NAME)).first()
    if row is None:
        return True
    computed_at, requested_at, key, took_ms = tokyo(row[0]), row[1], row[2], row[3]
    age = wiring.clock.now() - computed_at
    every = period(wiring.settings.dashboard_refresh_seconds, took_ms)
    asked = requested_at is not None
    return not timedelta(0) <= age < every or key != config_key(wiring) or asked


def tick(wiring) -> Snapshot | None:
    """The scheduler's job, every POLL_SECONDS: refresh when due; the new snapshot or None."""
    if not due(wiring):
        return None
    snapshot = refresh(wiring)
    log.info("dashboard_refreshed", took_ms=snapshot.took_ms, **snapshot.parts_ms)
    return snapshot


def scheduler_jobs(wiring) -> list:
    """The periodic jobs the clock process runs for the dashboard (none when switched off)."""
    from bot.clock import Periodic

    seconds = wiring.settings.dashboard_refresh_seconds
    return [Periodic(JOB_ID, tick, min(POLL_SECONDS, seconds))] if seconds else []


# --- JSON form: dataclasses, dates and dicts with any keys, tagged --------------------------

_CLASSES = {
    cls.__name__: cls
    for cls in (
        Dashboard,
        kpi.KpiFigures,
        kpi.RunFigures,
        Progress,
        Month,
        CampaignLine,
        Coverage,
        Reach,
        RunDetail,
    )
}


def encode(value):
    """A JSON-ready form of `value` that `decode` turns back into an equal value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)  # a StrEnum as its plain value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if is_dataclass(value):
        name = type(value).__name__
        if _CLASSES.get(name) is not type(value):
            raise TypeError(f"{name} is not a snapshot class")
        return {"$": name, **{f.name: encode(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, tuple):
        return {"$t": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {"$m": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot store a {type(value).__name__} in the snapshot")


def decode(value):
    """The value `encode` was given (datetimes in Asia/Tokyo)."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$dt" in value:
        return tokyo(datetime.fromisoformat(value["$dt"]))
    if "$d" in value:
        return date.fromisoformat(value["$d"])
    if "$t" in value:
        return tuple(decode(item) for item in value["$t"])
    if "$m" in value:
        return {decode(k): decode(v) for k, v in value["$m"]}
    cls = _CLASSES[value["$"]]
    return cls(**{k: decode(v) for k, v in value.items() if k != "$"})
