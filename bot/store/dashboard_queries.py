"""The staff dashboard's SQL: logins and their limits, staff accounts, entered KPI figures.

Kept apart from the audience and delivery SQL in bot.store.queries (the same rules: named
builders, one line on why each is shaped so). Nothing here reads resident data.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

from sqlalchemy import Connection, Delete, Select, Update, and_, case, delete, func, select, update

from bot.store.models import (
    AuditEntry,
    CampaignRun,
    Click,
    DashboardSnapshot,
    Delivery,
    DeliveryStatus,
    HomepageVisits,
    LoginFailure,
    ProgramResponse,
    Resident,
    ResidentActivity,
    RunKind,
    SchedulerLease,
    SendBatch,
    StaffUser,
)
from bot.store.queries import is_status, registered, unbatched

_failures = LoginFailure.__table__.c
_staff = StaffUser.__table__.c
_audit = AuditEntry.__table__.c


# name: failures-since
# Failed logins in a window, narrowed to a name and/or an address; the indexes
# (name, address, at) and (address, at) answer each shape without reading the table.
def failures_since(
    since: dt.datetime, *, name: str | None = None, address: str | None = None
) -> Select[tuple[int, dt.datetime | None]]:
    """Select (how many, the oldest moment) of failed logins after `since`."""
    query = select(func.count(), func.min(_failures.at)).where(_failures.at > since)
    if name is not None:
        query = query.where(_failures.name == name)
    if address is not None:
        query = query.where(_failures.address == address)
    return query


# name: forget-failures
# A successful login clears that (name, address) pair's record; old rows are dropped
# after a day, so the table never grows past a day of attempts.
def forget_failures(*, name: str, address: str) -> Delete:
    """Delete the failed logins of one name from one address."""
    return delete(LoginFailure).where(_failures.name == name, _failures.address == address)


def drop_old_failures(before: dt.datetime) -> Delete:
    """Delete failed logins older than `before`."""
    return delete(LoginFailure).where(_failures.at < before)


def drop_failure(failure_id: int) -> Delete:
    """Delete one recorded attempt (an attempt refused before its password was checked)."""
    return delete(LoginFailure).where(_failures.id == failure_id)


# name: familiar-address
# Has this name logged in successfully from this address lately? Such a pair is spared
# the address-wide and global limits, so nobody elsewhere can lock a colleague out.
# The audit log is small (staff actions only) and indexed by time.
def familiar_address(name: str, address: str, since: dt.datetime) -> Select[tuple[int]]:
    """Select 1 if `name` logged in from `address` after `since`."""
    return (
        select(_audit.id)
        .where(
            _audit.at > since,
            _audit.actor == name,
            _audit.action == "login",
            _audit.detail == f"address {address}",
        )
        .limit(1)
    )


# name: bump-session-epoch
# One UPDATE: every cookie carrying the old epoch stops working at once, in every process.
def bump_session_epoch(staff_id: int) -> Update:
    """Raise the staff member's session epoch by one."""
    return (
        update(StaffUser)
        .where(_staff.id == staff_id)
        .values(session_epoch=StaffUser.session_epoch + 1)
    )


# name: staff-id-by-name
# The unique index on name answers it; checked before the insert for a kind message (the
# insert's IntegrityError still catches a twin added in between).
def staff_id_named(name: str) -> Select[tuple[int]]:
    """Select the id of the staff login with this name."""
    return select(StaffUser.id).where(StaffUser.name == name)


# name: staff-by-name
def staff_named(name: str) -> Select[tuple[StaffUser]]:
    """Select the staff login (ORM object) with this exact name."""
    return select(StaffUser).where(StaffUser.name == name)


# name: staff-list
# A handful of rows: the whole table, by name, for the staff page.
def all_staff() -> Select[tuple[StaffUser]]:
    """Select every staff login, ordered by name."""
    return select(StaffUser).order_by(StaffUser.name)


# name: homepage-visits-in-year
# The entered visitor figures of a fiscal year's months (at most 12 rows, primary key).
def homepage_visits_between(first: dt.date, end: dt.date) -> Select[tuple[dt.date, int]]:
    """Select (month, visitors) for months from `first` up to, not including, `end`."""
    return (
        select(HomepageVisits.month, HomepageVisits.visitors)
        .where(HomepageVisits.month >= first, HomepageVisits.month < end)
        .order_by(HomepageVisits.month)
    )


# name: latest-homepage-visits
# The newest month entered: the figure the KPI card shows against the monthly target.
def latest_homepage_visits() -> Select[tuple[dt.date, int]]:
    """Select (month, visitors) of the latest month entered."""
    return (
        select(HomepageVisits.month, HomepageVisits.visitors)
        .order_by(HomepageVisits.month.desc())
        .limit(1)
    )


# name: registered-by-district-and-band
# Today's registrations per district, split into age bands by birth-date bounds: one pass
# over the residents (SUM(CASE) per band), grouped by district. `bounds` are inclusive
# (earliest, latest) birth dates per band, None for open; residents with no birth date
# fall in no band and are counted in the district total only.
def registered_by_district_and_band(
    bounds: list[tuple[dt.date | None, dt.date | None]],
) -> Select:
    """Select (district, total, count per band...) of registered residents."""
    born = Resident.birth_date
    columns = []
    for earliest, latest in bounds:
        conditions = [born.is_not(None)]
        if earliest is not None:
            conditions.append(born >= earliest)
        if latest is not None:
            conditions.append(born <= latest)
        columns.append(func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0))
    return (
        select(Resident.district, func.count(), *columns)
        .where(registered())
        .group_by(Resident.district)
    )


# name: audit-page
# The newest audit entries first, a page at a time (the index on `at` serves the order).
def audit_entries(limit: int | None, before_id: int | None = None) -> Select:
    """Select audit entries, newest first."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return query.limit(limit) if limit else query


# --- Campaign results: details per run, for the runs the page lists ---------------------------
# Each takes the run ids of the fiscal year and reads deliveries through the unique
# (run_id, resident_id) index, so a run's rows are found without scanning other runs.


# name: run-reasons
# Deferred, failed and skipped notices per run and reason: why a notice did not go out
# (LINE's message for failures, the weekly limit for deferrals).
def run_reasons(run_ids: list[int], statuses: tuple[str, ...]) -> Select:
    """Select (run_id, status, reason, count)."""
    return (
        select(Delivery.run_id, Delivery.status, Delivery.reason, func.count())
        .where(Delivery.run_id.in_(run_ids), Delivery.status.in_(statuses))
        .group_by(Delivery.run_id, Delivery.status, Delivery.reason)
    )


# name: run-answers
# 申請済み / 対象外・不要 answers about the run's program from the residents the run
# reached (a semi-join on the answers' primary key; no personal data leaves the database).
def run_answers(run_ids: list[int], sent: str) -> Select:
    """Select (run_id, answer, count)."""
    answers = ProgramResponse.__table__.c
    return (
        select(Delivery.run_id, answers.answer, func.count())
        .join(
            ProgramResponse.__table__,
            and_(
                answers.resident_id == Delivery.resident_id,
                answers.program_id == Delivery.program_id,
            ),
        )
        .where(Delivery.run_id.in_(run_ids), Delivery.status == sent)
        .group_by(Delivery.run_id, answers.answer)
    )


# name: run-send-times
# When each run's notices actually went out (first and last accepted by LINE).
def run_send_times(run_ids: list[int], sent: str) -> Select:
    """Select (run_id, first sent_at, last sent_at)."""
    return (
        select(Delivery.run_id, func.min(Delivery.sent_at), func.max(Delivery.sent_at))
        .where(Delivery.run_id.in_(run_ids), Delivery.status == sent)
        .group_by(Delivery.run_id)
    )


# --- Data version: what the cached delivery and click figures depend on -------------------
# Deliveries only move from pending/sending/deferred to a final status, or are inserted
# (a new highest id); a `sending` row is settled together with its batch. So the highest
# id, the count of pending and of deferred rows (never in a batch: ix_deliveries_unbatched),
# the batches per status (a row per 500 deliveries) and the runs' own rows (a small
# table) change whenever any figure over the deliveries could. Clicks are only inserted.


# name: deliveries-version
def deliveries_version() -> list[Select]:
    """Selects whose results together change whenever delivery or click figures may."""
    runs = CampaignRun.__table__.c
    batches = SendBatch.__table__.c
    return [
        select(func.max(Delivery.id), select(func.max(Click.id)).scalar_subquery()),
        select(
            select(func.count())
            .where(unbatched(), is_status(Delivery.status, DeliveryStatus.PENDING))
            .scalar_subquery(),
            select(func.count())
            .where(unbatched(), is_status(Delivery.status, DeliveryStatus.DEFERRED))
            .scalar_subquery(),
        ),
        select(batches.status, func.count()).group_by(batches.status).order_by(batches.status),
        select(runs.id, runs.campaign_id, runs.program_id, runs.slot_at, runs.status).order_by(
            runs.id
        ),
    ]


# --- KPI figures (bot.kpi) ----------------------------------------------------------------
# Months are Asia/Tokyo calendar months given as aware bounds; every figure compares the
# timestamps with them (exact on PostgreSQL's timestamptz; on SQLite, which stores the
# wall-clock text Todoku's Tokyo clock wrote, it matches too).


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _per_month(column, bounds: list[dt.datetime]) -> list:
    # One SUM(CASE ...) per month: a single pass over the rows, the same SQL on both back
    # ends (no dialect-specific date_trunc/strftime, no time-zone conversion in SQL).
    return [_count_if(and_(column >= lo, column < hi)) for lo, hi in pairwise(bounds)]


def _in_year(column, bounds: list[dt.datetime]):
    return and_(column >= bounds[0], column < bounds[-1])


# name: resident-counts
# One pass over the residents for the headline counts (a million rows: one scan, not four).
# Family profiles (代理受信) count as registrations (apart too), never as followers: they
# mirror their account's following and consent but are no LINE accounts.
def resident_counts() -> Select[tuple[int, int, int, int]]:
    """Select (registered, registered family profiles, following, consented and following)."""
    account = Resident.guardian_id.is_(None)
    following = and_(account, Resident.following.is_(True))
    consented = Resident.consented_at.is_not(None)
    return select(
        _count_if(registered()),
        _count_if(and_(registered(), ~account)),
        _count_if(following),
        _count_if(and_(consented, following)),
    ).select_from(Resident)


# name: activity-count
# Anonymous facts (deleted, unfollow, purged ...) have no resident: only a count per kind.
def activity_count(kind: str) -> Select[tuple[int]]:
    """Select how many activity rows of this kind there are."""
    return select(func.count()).where(ResidentActivity.kind == kind)


# name: catchup-sent
# Catch-up notices are deliveries of catch-up runs: joined to the (small) runs table.
def catchup_sent_since(since: dt.datetime) -> Select[tuple[int]]:
    """Select how many catch-up notices were sent since `since`."""
    return (
        select(func.count())
        .select_from(Delivery)
        .join(CampaignRun, CampaignRun.id == Delivery.run_id)
        .where(
            CampaignRun.kind == RunKind.CATCHUP,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at >= since,
        )
    )


# name: homepage-clicks
# Taps on notices' homepage links in a time range (a month): the bot's share of HP visits.
def homepage_clicks_between(start: dt.datetime, end: dt.datetime) -> Select[tuple[int]]:
    """Select how many homepage-link clicks fall in [start, end)."""
    return select(func.count()).where(
        Click.link == "homepage", Click.clicked_at >= start, Click.clicked_at < end
    )


# name: activity-per-month
def activity_per_month(bounds: list[dt.datetime]) -> Select:
    """Select (kind, count per month...) of the activity rows inside `bounds`."""
    at = ResidentActivity.occurred_at
    return (
        select(ResidentActivity.kind, *_per_month(at, bounds))
        .where(_in_year(at, bounds))
        .group_by(ResidentActivity.kind)
    )


# name: sent-per-program-and-month
# One pass over the year's sent notices: per program, the first send and sends per month.
def sent_per_program_and_month(bounds: list[dt.datetime]) -> Select:
    """Select (program_id, first sent_at, sent per month...) of notices sent inside `bounds`."""
    return (
        select(
            Delivery.program_id, func.min(Delivery.sent_at), *_per_month(Delivery.sent_at, bounds)
        )
        .where(Delivery.status == DeliveryStatus.SENT, _in_year(Delivery.sent_at, bounds))
        .group_by(Delivery.program_id)
    )


# name: clicks-per-link-and-month
def clicks_per_link_and_month(bounds: list[dt.datetime]) -> Select:
    """Select (link, clicks per month...) of the clicks inside `bounds`."""
    return (
        select(Click.link, *_per_month(Click.clicked_at, bounds))
        .where(_in_year(Click.clicked_at, bounds))
        .group_by(Click.link)
    )


# name: registered-by-month-end
# Counted from today's registered residents, not from activity: it then ends at exactly the
# headline figure, and residents loaded by `residents import` (no activity rows) count too.
def registered_before_each(ends: list[dt.datetime]) -> Select:
    """Select, for each moment in `ends`, how many of today's registered registered before it."""
    at = Resident.registered_at
    return select(*[_count_if(at < end) for end in ends]).where(registered())


_RUN_COLUMNS = (
    CampaignRun.id,
    CampaignRun.campaign_id,
    CampaignRun.program_id,
    CampaignRun.slot_at,
    CampaignRun.status,
    CampaignRun.reminder,
    CampaignRun.kind,
)


# name: runs-with-counts
# Every run with a slot in the year and its deliveries per status, in one grouped outer
# join (a run with no deliveries still shows, with zeros).
def runs_with_status_counts(bounds: list[dt.datetime], statuses: tuple[str, ...]) -> Select:
    """Select (id, campaign, program, slot_at, status, reminder, kind, count per status...)."""
    run = CampaignRun
    return (
        select(*_RUN_COLUMNS, *[_count_if(Delivery.status == s) for s in statuses])
        .outerjoin(Delivery, Delivery.run_id == run.id)
        .where(_in_year(run.slot_at, bounds))
        .group_by(*_RUN_COLUMNS)
        .order_by(run.slot_at, run.id)
    )


# name: clicks-per-run
def clicks_per_run(run_ids: list[int]) -> Select[tuple[int, str, int]]:
    """Select (run_id, link, count) of the clicks on these runs' notices."""
    return (
        select(Click.run_id, Click.link, func.count())
        .where(Click.run_id.in_(run_ids))
        .group_by(Click.run_id, Click.link)
    )


# --- The dashboard's snapshot (bot.admin.snapshot) ------------------------------------------


# name: dashboard-snapshot
# One row by primary key: what every dashboard page reads instead of counting.
def snapshot_named(name: str) -> Select[tuple[DashboardSnapshot]]:
    """Select the stored snapshot (ORM object) called `name`."""
    return select(DashboardSnapshot).where(DashboardSnapshot.name == name)


# name: store-dashboard-snapshot
# INSERT ... ON CONFLICT (name) DO UPDATE: the scheduler and a web process refreshing at
# once both succeed (the later write wins); no read-then-write race on the primary key.
# A refresh request made after this computation began stays; one it answers is cleared.
def store_snapshot(conn: Connection, values: dict) -> None:
    """Insert or replace the snapshot row `values["name"]`."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = DashboardSnapshot.__table__
    statement = dialect_insert(table).values(**values)
    changed = {k: statement.excluded[k] for k in values if k != "name"}
    asked = table.c.requested_at
    changed["requested_at"] = case((asked > statement.excluded.computed_at, asked), else_=None)
    conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_=changed))


# name: dashboard-snapshot-times
# Only the times, not the figures: the scheduler polls this every few seconds.
def snapshot_times(name: str) -> Select[tuple[dt.datetime, dt.datetime | None, str, int]]:
    """Select (computed_at, requested_at, config_key, took_ms) of the snapshot `name`."""
    snap = DashboardSnapshot
    return select(snap.computed_at, snap.requested_at, snap.config_key, snap.took_ms).where(
        snap.name == name
    )


# name: request-dashboard-snapshot
# 「今すぐ更新」 with a scheduler active: the request is a timestamp the scheduler's poll sees.
def request_snapshot(name: str, at: dt.datetime) -> Update:
    """Mark the snapshot called `name` as wanted again from `at`."""
    return update(DashboardSnapshot).where(DashboardSnapshot.name == name).values(requested_at=at)


# name: lease-holder-until
# Is a scheduler active (its lease unexpired)? One row by primary key.
def lease_until(name: str) -> Select[tuple[dt.datetime]]:
    """Select when the named scheduler lease expires (no row: no scheduler ever ran)."""
    return select(SchedulerLease.expires_at).where(SchedulerLease.name == name)
