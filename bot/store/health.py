"""Is the database ready for Todoku? For `/healthz` and before every database command.

Ready means: reachable, at the newest Alembic revision, and writable. Each failure has
one message that says what to do; none carries SQL parameters or resident data.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.errors import DatabaseNotReady, DatabaseUnreachable
from bot.store import queries
from bot.store.engine import sqlite_file

NO_TABLES = "the database has no Todoku tables: run `todoku db upgrade`"
# /healthz answers within this many seconds whatever the database does.
HEALTH_LIMIT = 3.0


@cache
def head_revision() -> str:
    """The newest migration's revision (read once from the packaged migrations).

    Read from the scripts' `revision` / `down_revision` assignments rather than through
    Alembic's ScriptDirectory: importing Alembic's runtime (and every dialect under it) was
    a third of every CLI command's start-up. Alembic decides whenever the chain is not a
    plain line (a branch, a merge), and a test holds the two answers equal.
    """
    import ast

    import migrations.versions

    revisions: dict[str, object] = {}
    for script in Path(migrations.versions.__file__).parent.glob("*.py"):
        assigned = {
            node.targets[0].id: node.value
            for node in ast.parse(script.read_text(encoding="utf-8")).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        }
        if "revision" in assigned:
            down = assigned.get("down_revision")
            revisions[ast.literal_eval(assigned["revision"])] = down and ast.literal_eval(down)
    downs = set(revisions.values())
    heads = [r for r in revisions if r not in downs]
    if len(heads) == 1 and all(isinstance(d, str | None) for d in downs):
        return heads[0]
    return alembic_head_revision()


def alembic_head_revision() -> str:
    """The head as Alembic computes it."""
    from alembic.script import ScriptDirectory

    from bot.store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()


def where(engine: Engine) -> str:
    """The database's URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def check_schema(engine: Engine, *, writable: bool = False) -> None:
    """Raise DatabaseUnreachable or DatabaseNotReady unless the schema is at head
    (and, with `writable`, a write succeeds)."""
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is not None and not path.is_file():
        raise DatabaseNotReady(f"{NO_TABLES} (no database file at {path})")
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        # A connection error names the server and the failure, never resident data.
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else _reason(exc)
        raise DatabaseUnreachable(
            f"cannot connect to the database at {where(engine)} ({detail}); "
            "check DATABASE_URL and that the database server is running"
        ) from None
    with conn:
        try:
            with conn.begin():
                revision = queries.schema_revision(conn)
        except SQLAlchemyError:
            raise DatabaseNotReady(NO_TABLES) from None
        if revision != head_revision():
            raise DatabaseNotReady(
                f"the database schema is at revision {revision}, not {head_revision()}: "
                "run `todoku db upgrade`"
            )
        if writable:
            transaction = conn.begin()
            try:
                queries.probe_write(conn)
            finally:
                transaction.rollback()


def health_problem(engine: Engine, limit: float = HEALTH_LIMIT) -> str | None:
    """None when the database is ready and writable, else a short reason; within `limit`."""
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            check_schema(engine, writable=True)
            outcome.append(None)
        except (DatabaseNotReady, DatabaseUnreachable) as exc:
            outcome.append(type(exc).__name__)
        except Exception as exc:  # read-only, locked, timed out, file deleted, ...
            outcome.append(_reason(exc))

    # A daemon thread: a database that hangs beyond every timeout cannot hold the answer.
    thread = threading.Thread(target=probe, name="healthz", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        return "database did not answer in time"
    return outcome[0] if outcome else "database check failed"


def _reason(exc: BaseException) -> str:
    """The error's class (and the driver's class): never its text, which may hold data."""
    orig = getattr(exc, "orig", None)
    return type(exc).__name__ + (f"/{type(orig).__name__}" if orig is not None else "")
