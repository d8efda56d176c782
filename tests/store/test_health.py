"""/healthz is honest and every database call is bounded in time (issue 9, item 6).

503 when the schema is not at Alembic's head, the database takes no writes (read-only, or
the SQLite file deleted), or it does not answer; always within the time limit. The webhook
refuses (non-200, so LINE redelivers) when the SQLite file was deleted under it.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from bot.store.engine import WEB_TIMEOUT, make_engine
from bot.store.health import HEALTH_LIMIT
from bot.store.migrate import upgrade
from bot.wiring import wire
from tests.conftest import make_settings
from tests.webhooks import body_of, new_user_id, post
from tests.webhooks import event as webhook_event


def _client(engine, clock):
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    app = create_app(wiring=wire(settings, clock=clock, engine=engine))
    return app.test_client()


def _healthz(client) -> tuple[int, float, object]:
    began = time.monotonic()
    response = client.get("/healthz")
    return response.status_code, time.monotonic() - began, response


def test_healthz_is_200_at_head_with_nosniff(client):
    """A migrated, writable database: 200, and the answer is not sniffed."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz_is_503_when_the_schema_is_not_at_head(client, engine):
    """A database one migration behind (or ahead) is not ready."""
    with engine.begin() as conn:
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        assert client.get("/healthz").status_code == 503
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def fresh_url(backend, request, tmp_path):
    """A database on the backend under test that no migration ran on."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    pg_url = request.getfixturevalue("pg_url")
    name = f"todoku_fresh_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_healthz_is_503_on_a_never_migrated_database(fresh_url, clock, tmp_path):
    """No Todoku tables: 503 (and on SQLite no empty file is created by asking)."""
    (tmp_path / "fresh.db").touch() if fresh_url.startswith("sqlite") else None
    engine = make_engine(fresh_url)
    try:
        assert _client(engine, clock).get("/healthz").status_code == 503
    finally:
        engine.dispose()


def test_healthz_is_503_on_a_read_only_database(engine, clock):
    """A database that refuses writes (read-only file, standby server): 503."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        read_only = make_engine(url)
        # query_only: what a read-only file does to writes, also for root (who may write
        # to any file whatever its mode).
        event.listen(read_only, "connect", lambda c, _r: c.execute("PRAGMA query_only=ON"))
    else:
        read_only = make_engine(url + "?options=-c%20default_transaction_read_only%3Don")
    try:
        assert _client(read_only, clock).get("/healthz").status_code == 503
    finally:
        read_only.dispose()


def test_healthz_is_503_within_the_limit_when_the_database_is_locked(engine, client):
    """A database that does not answer (a lock held by another process): 503 in time."""
    holder = make_engine(engine.url.render_as_string(hide_password=False))
    with holder.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, held
        else:
            conn.begin()
            conn.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
        status, took, response = _healthz(client)
        conn.rollback()
    holder.dispose()
    assert status == 503, response.json
    assert took < HEALTH_LIMIT + 1.5


def test_statements_and_lock_waits_have_a_timeout(engine):
    """The web process's engine gives up on a slow statement or a held lock in seconds."""
    url = engine.url.render_as_string(hide_password=False)
    web = make_engine(url, timeout=WEB_TIMEOUT)
    holder = make_engine(url)
    try:
        with holder.connect() as lock:
            if engine.dialect.name == "sqlite":
                lock.exec_driver_sql("BEGIN IMMEDIATE")
                slow = "INSERT INTO scheduler_lease VALUES ('x', 'x', '2026-01-01')"
            else:
                slow = "SELECT pg_sleep(30)"
            began = time.monotonic()
            with pytest.raises(OperationalError), web.begin() as conn:
                conn.execute(text(slow))
            lock.rollback()
        assert time.monotonic() - began < WEB_TIMEOUT + 2
    finally:
        web.dispose()
        holder.dispose()


def test_a_server_that_never_answers_fails_fast(clock, pg_url):
    """A frozen PostgreSQL (accepts TCP, never speaks): connect_timeout, healthz 503 in time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    frozen = make_engine(f"postgresql+psycopg://todoku@127.0.0.1:{port}/todoku")
    try:
        status, took, _ = _healthz(_client(frozen, clock))
        assert status == 503 and took < HEALTH_LIMIT + 1.5
        began = time.monotonic()
        with pytest.raises(OperationalError), frozen.connect():
            pass
        assert time.monotonic() - began < 10
    finally:
        listener.close()
        frozen.dispose()


def test_deleted_sqlite_file_gives_503_and_the_webhook_refuses(tmp_path, clock):
    """Delete the SQLite file under a running app: health 503, webhooks non-200 (LINE
    redelivers them), and no new empty file appears."""
    db = tmp_path / "todoku.db"
    engine = make_engine(f"sqlite:///{db}", create=True)
    upgrade(engine)
    client = _client(engine, clock)
    assert client.get("/healthz").status_code == 200
    assert post(client, body_of(webhook_event("follow", new_user_id()))).status_code == 200
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"todoku.db{suffix}").unlink(missing_ok=True)
    assert client.get("/healthz").status_code == 503
    client.application.testing = False  # answer 500 as in production, do not raise
    statuses = [
        post(client, body_of(webhook_event("follow", new_user_id()))).status_code for _ in range(3)
    ]
    assert all(s >= 500 for s in statuses), statuses
    assert not db.exists()
    engine.dispose()


def test_healthz_answers_while_another_thread_holds_the_database(engine, client):
    """The time limit holds with concurrent checks too (threads do not queue behind a lock)."""
    holder = make_engine(engine.url.render_as_string(hide_password=False))
    results: list[int] = []
    with holder.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
        began = time.monotonic()
        threads = [
            threading.Thread(target=lambda: results.append(client.get("/healthz").status_code))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - began
        conn.rollback()
    holder.dispose()
    assert results == [503] * 4 and took < HEALTH_LIMIT + 2


def test_the_head_read_from_the_scripts_is_alembics_head():
    """Every command checks the schema against this head; it must be the one Alembic migrates to."""
    from bot.store.health import alembic_head_revision, head_revision

    head_revision.cache_clear()
    assert head_revision() == alembic_head_revision()
