"""A pooled PostgreSQL connection the server closed is replaced at checkout, unseen."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from bot.store.engine import make_engine


@pytest.fixture
def pg_engine(pg_url):
    """A new engine on the test server (SQLite has no server to hang up)."""
    fresh = make_engine(pg_url)
    yield fresh
    fresh.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_healthy_idle_connection_is_reused(pg_engine):
    """The check costs no reconnect: an idle, open connection is handed out again."""
    first = _backend_pid(pg_engine)
    time.sleep(0.2)
    assert _backend_pid(pg_engine) == first


def test_a_connection_the_server_ended_is_replaced_without_an_error(pg_engine, pg_url):
    """After a restart or failover the server ends every connection; the next request
    gets a new one instead of an error (a webhook would have answered 500)."""
    old = _backend_pid(pg_engine)
    admin_engine = make_engine(pg_url)
    with admin_engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old})
        for _ in range(100):  # the backend exits asynchronously
            still_there = admin.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": old}
            ).scalar_one()
            if not still_there:
                break
            time.sleep(0.05)
    admin_engine.dispose()
    with pg_engine.connect() as conn:
        new = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert new != old
