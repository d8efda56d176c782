"""All audience SQL: named query builders over the residents tables, and `todoku audience`.

Rules are compiled by ``segments.sql.compile_rule`` over ``RESIDENT_COLUMNS``; this module
adds what makes a resident reachable at all (``registered``) and streams the result in
chunks, so memory stays flat however large the audience.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, select, true

from bot.errors import UserError
from bot.models import Resident, ResidentChild, ResidentInterest
from segments.sql import ResidentColumns, compile_rule

CHUNK = 10_000

_residents = Resident.__table__.c
RESIDENT_COLUMNS = ResidentColumns(
    id=_residents.id,
    birth_date=_residents.birth_date,
    district=_residents.district,
    household_size=_residents.household_size,
    pregnant=_residents.pregnant,
    single_parent=_residents.single_parent,
    child_resident_id=ResidentChild.__table__.c.resident_id,
    child_birth_date=ResidentChild.__table__.c.birth_date,
    interest_resident_id=ResidentInterest.__table__.c.resident_id,
    interest_topic=ResidentInterest.__table__.c.topic,
)


class UnknownTarget(UserError):
    """`todoku audience X` where X is neither a program nor a campaign id."""

    def __init__(self, target: str, valid: list[str]) -> None:
        super().__init__(
            f"unknown program or campaign '{target}'; valid: {', '.join(valid) or '(none)'}"
        )
        self.target = target
        self.valid = valid


def registered() -> ColumnElement[bool]:
    """Residents a notice may reach: consented, answered, still following, not paused."""
    return and_(
        _residents.consented_at.is_not(None),
        _residents.registered_at.is_not(None),
        _residents.following.is_(True),
        _residents.notices_paused.is_(False),
    )


def matching(rules: Iterable[Any], on: dt.date) -> ColumnElement[bool]:
    """Residents for whom every given rule holds on `on` (None = no restriction)."""
    conditions = [compile_rule(rule, RESIDENT_COLUMNS, on) for rule in rules if rule is not None]
    return and_(true(), *conditions)


# name: eligible-residents
# The registered residents a program (and, for a campaign, its audience rule) concerns on
# a day: the audience of a send slot before opt-outs and past deliveries. Ordered by id,
# the primary key, so output is stable and SQLite reads it in table order at no cost.
def eligible_residents(rules: Any, on: dt.date) -> Select[tuple[int, str]]:
    """Select (id, line_user_id) of registered residents matching the rule(s) on `on`."""
    rules = rules if isinstance(rules, list | tuple) else [rules]
    return (
        select(_residents.id, _residents.line_user_id)
        .where(registered(), matching(rules, on))
        .order_by(_residents.id)
    )


# name: eligible-count
# Only the size of the audience (todoku plan); no ordering, no ids leave the database.
def eligible_count(rules: Any, on: dt.date) -> Select[tuple[int]]:
    """Select how many registered residents match the rule(s) on `on`."""
    rules = rules if isinstance(rules, list | tuple) else [rules]
    return (
        select(func.count())
        .select_from(Resident.__table__)
        .where(registered(), matching(rules, on))
    )


def make_room(conn: Connection) -> None:
    """Let PostgreSQL hash rule subqueries in this transaction (run before eligible_* queries)."""
    # `id IN (subquery)` under OR/NOT cannot become a semi-join; PostgreSQL evaluates it as a
    # SubPlan, hashed only if the subquery's rows fit in work_mem (default 4 MB), else it
    # rescans the subquery for every resident. At a million residents an interest subquery
    # has ~400,000 rows: measured, the default took minutes, 256 MB takes 0.3–0.9 s. SET
    # LOCAL ends with the transaction. (Correlated EXISTS was measured too: slower on both.)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")


def count_eligible(conn: Connection, rules: Any, on: dt.date) -> int:
    """How many registered residents match the rule(s) on `on`."""
    make_room(conn)
    return conn.scalar(eligible_count(rules, on)) or 0


def stream(conn: Connection, query: Select, chunk: int = CHUNK) -> Iterator[list[tuple]]:
    """Yield the query's rows as plain tuples, `chunk` at a time, with flat memory."""
    make_room(conn)
    # Rows come from the driver's cursor, not as SQLAlchemy Rows: at a million ids the Row
    # objects cost more than the query (measured on PostgreSQL: 1.8 s through Result,
    # 0.7 s from the cursor). So only select columns without result processing (ids,
    # strings). Values are rendered by SQLAlchemy as SQL literals: they are dates, numbers
    # and names from the checked configuration, never text from a request.
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        # A named cursor is a server-side cursor: PostgreSQL sends `chunk` rows per FETCH.
        cursor = driver.cursor(name="todoku_stream")
        params: Any = {}  # parse the query's %% escapes (pyformat), as SQLAlchemy wrote them
    else:
        cursor, params = driver.cursor(), ()  # SQLite steps through rows as they are fetched
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk):
            yield rows
    finally:
        cursor.close()


def target_rules(config: Any, target: str) -> list[Any]:
    """The rules that define a program's or campaign's audience (config.md)."""
    programs = {p.id: p for p in config.programs}
    if target in programs:
        return [programs[target].eligible]
    for campaign in config.campaigns:
        if campaign.id == target and campaign.program in programs:
            return [programs[campaign.program].eligible, campaign.audience]
    raise UnknownTarget(target, sorted(programs) + sorted(c.id for c in config.campaigns))


def audience_command(wiring: Any, target: str, on: dt.date, as_json: bool) -> int:
    """`todoku audience TARGET [--on DATE] [--json]`: print who matches; the exit code."""
    try:
        rules = target_rules(wiring.config, target)
    except UnknownTarget as error:
        print(error, file=sys.stderr)
        return 1
    # Ids go to a spooled temporary file while they are counted, so the JSON can put the
    # count first without holding a large audience in memory.
    with tempfile.SpooledTemporaryFile(8 << 20, mode="w+", encoding="utf-8") as ids:
        count = _spool_ids(wiring.engine, rules, on, ids, as_json)
        ids.seek(0)
        if as_json:
            head = {"target": target, "on": on.isoformat(), "count": count}
            sys.stdout.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "line_user_ids": [')
            shutil.copyfileobj(ids, sys.stdout)
            sys.stdout.write("]}\n")
        else:
            print(f"{target}: {count} residents on {on.isoformat()}")
            shutil.copyfileobj(ids, sys.stdout)
    return 0


def _spool_ids(engine: Any, rules: list[Any], on: dt.date, out: Any, as_json: bool) -> int:
    count = 0
    with engine.connect() as conn:
        for rows in stream(conn, eligible_residents(rules, on)):
            if as_json:
                out.write((", " if count else "") + ", ".join(json.dumps(u) for _, u in rows))
            else:
                out.writelines(f"{u}\n" for _, u in rows)
            count += len(rows)
    return count
