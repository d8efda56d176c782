"""Fixtures that build real things: databases (SQLite and PostgreSQL), app, clients.

Every test that asks for `engine` (or anything built on it) runs twice: on SQLite and on
a real PostgreSQL server — a throwaway cluster started from the installed binaries, or
the server named by TODOKU_TEST_PG_URL. Tables are emptied after each test.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from werkzeug.serving import make_server

from bot.clock import TOKYO, FixedClock
from bot.settings import DEMO_ACCESS_TOKEN, DEMO_CHANNEL_SECRET, DEMO_SECRET_KEY, Settings
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Base
from tests.pgcluster import PgCluster, find_bindir

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = REPO / "config"
# Today in the project's calendar: a day inside 令和8年度 when several sample programs are open.
DEFAULT_NOW = datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL server for this test session."""
    if os.environ.get("TODOKU_TEST_PG_URL"):
        yield os.environ["TODOKU_TEST_PG_URL"]
        return
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(
                "PostgreSQL server binaries are required in CI (apt-get install postgresql)"
            )
        pytest.skip("PostgreSQL server binaries are not installed")
    cluster = PgCluster(bindir)
    url = cluster.start()
    yield url
    cluster.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request) -> str:
    """The database backend under test."""
    return request.param


@pytest.fixture(scope="session")
def _migrated(backend, request, tmp_path_factory) -> Engine:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'todoku.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url, create=True)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)  # the real migrations, not create_all: they are under test too
    yield engine
    engine.dispose()


@pytest.fixture
def engine(_migrated) -> Engine:
    """A migrated database, emptied after the test."""
    yield _migrated
    empty_tables(_migrated)


def empty_tables(engine: Engine) -> None:
    """Delete every row of every Todoku table."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def clock() -> FixedClock:
    """A clock that stands still at DEFAULT_NOW until a test moves it."""
    return FixedClock(DEFAULT_NOW)


def make_settings(database_url: str, **overrides) -> Settings:
    """Settings for tests: demo secrets, the sample configuration."""
    values = {
        "database_url": database_url,
        "config_dir": SAMPLE_CONFIG,
        "channel_secret": DEMO_CHANNEL_SECRET,
        "channel_access_token": DEMO_ACCESS_TOKEN,
        "secret_key": DEMO_SECRET_KEY,
        # Nothing listens on port 9: a test that forgets linesim fails fast, never reaches LINE.
        "line_api_base": "http://127.0.0.1:9",
        "line_api_data_base": "http://127.0.0.1:9",
        # Replies go out after the webhook's 200 in production; tests wait for them so a
        # test reads the timeline after the reply, and no sweeper thread outlives its test.
        "reply_wait_seconds": 10.0,
        "reply_sweep_seconds": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


def settings_on_linesim(engine, linesim_server, **overrides) -> Settings:
    """make_settings for the test database, LINE being the test's linesim."""
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        line_api_base=linesim_server.url,
        line_api_data_base=linesim_server.url,
        **overrides,
    )


@pytest.fixture
def settings(engine) -> Settings:
    """Settings bound to the test database."""
    return make_settings(engine.url.render_as_string(hide_password=False))


@pytest.fixture
def wiring(settings, engine, clock):
    """The composition root, sharing the test engine and clock."""
    from bot.wiring import wire

    return wire(settings, clock=clock, engine=engine)


@pytest.fixture
def app(wiring):
    """The Flask app built by the real factory."""
    from bot.app import create_app

    app = create_app(wiring=wiring)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    """A test client for the web process."""
    return app.test_client()


@dataclass
class LiveBot:
    """The bot's web app served over real HTTP in a thread."""

    url: str
    wiring: object
    app: object


@pytest.fixture
def linesim_server():
    """linesim (the local LINE platform) serving in a thread on a free port."""
    from linesim.server import start_in_thread

    # LINE gives up after 2 s; tests allow 10 s so a cold PostgreSQL connection on a busy
    # CI machine does not cause a redelivery. linesim marks slow answers `late` anyway.
    running = start_in_thread(DEMO_CHANNEL_SECRET, DEMO_ACCESS_TOKEN, None, webhook_timeout=10)
    yield running
    running.stop()


@pytest.fixture
def live_bot(engine, clock, linesim_server) -> LiveBot:
    """The bot on a free port, talking to linesim through the real line-bot-sdk client."""
    from bot.app import create_app
    from bot.wiring import wire

    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        line_api_base=linesim_server.url,
        line_api_data_base=linesim_server.url,
    )
    wiring = wire(settings, clock=clock, engine=engine)
    app = create_app(wiring=wiring)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-bot", daemon=True)
    thread.start()
    yield LiveBot(f"http://127.0.0.1:{server.server_port}", wiring, app)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sim(linesim_server, live_bot):
    """A linesim client whose residents' events go to the live bot's webhook."""
    from linesim.client import SimClient

    client = SimClient(linesim_server.url)
    client.set_webhook(f"{live_bot.url}/callback")
    return client


def browser_env() -> dict[str, str]:
    """The environment for Chromium: without libfaketime (CI runs the suite once more under
    `faketime`; Chromium hangs with it preloaded, and the pages take no clock from it)."""
    return {
        k: v
        for k, v in os.environ.items()
        if k != "LD_PRELOAD" and not k.startswith("FAKETIME") and k != "DONT_FAKE_MONOTONIC"
    }
