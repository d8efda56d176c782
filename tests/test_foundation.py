"""Settings, migrations, CLI exit codes and the KPI command of the foundation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func

from bot.errors import SettingsError
from bot.settings import Settings
from bot.store.models import Base, Resident, ResidentActivity
from tests.conftest import REPO
from tests.helpers import clean_environ, run_todoku


def test_missing_secret_names_the_variable():
    """Outside the demo, a missing secret stops start-up and names the variable."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"LINE_CHANNEL_SECRET": "s", "TODOKU_SECRET_KEY": "k"})
    assert info.value.variable == "LINE_CHANNEL_ACCESS_TOKEN"


def test_demo_settings_need_no_secrets():
    """`todoku demo` starts without a LINE channel."""
    settings = Settings.from_env({}, demo=True)
    assert settings.channel_secret.get_secret_value()
    assert settings.database_url == "sqlite:///todoku.db"


def test_secrets_are_not_shown_in_settings_repr():
    """Secrets never appear when settings are printed or logged."""
    settings = Settings.from_env(
        {
            "LINE_CHANNEL_SECRET": "very-secret",
            "LINE_CHANNEL_ACCESS_TOKEN": "tok-123",
            "TODOKU_SECRET_KEY": "key-456",
        }
    )
    assert "very-secret" not in repr(settings) and "tok-123" not in repr(settings)


def test_web_process_refuses_to_start_without_secrets(tmp_path):
    """gunicorn's factory call fails with the variable's name when secrets are missing."""
    code = "from bot.app import create_app; create_app()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_environ(),
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LINE_CHANNEL_SECRET" in result.stderr


def test_migrations_match_the_models(engine):
    """The Alembic head creates exactly the schema the models describe."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_db_upgrade_creates_the_schema(tmp_path):
    """`todoku db upgrade` on an empty SQLite file creates every table."""
    db = tmp_path / "fresh.db"
    result = run_todoku("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    import sqlite3

    names = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master")}
    assert {"residents", "resident_children", "webhook_events", "deliveries"} <= names


def test_unknown_option_is_a_usage_error():
    """A usage error exits with code 2."""
    result = run_todoku("kpi", "--no-such-option")
    assert result.returncode == 2


def test_kpi_json_counts_followers_and_registrations(wiring, engine, capsys):
    """`todoku kpi --json` counts followers, registrations, deletions and unfollows."""
    from bot.cli import kpi_command

    now = wiring.clock.now()
    with wiring.session_factory() as s, s.begin():
        s.add_all(
            [
                Resident(line_user_id="U" + "1" * 32, following=True),
                Resident(
                    line_user_id="U" + "2" * 32, following=True, consented_at=now, registered_at=now
                ),
                Resident(
                    line_user_id="U" + "3" * 32,
                    following=False,
                    consented_at=now,
                    registered_at=now,
                ),
                ResidentActivity(kind="deleted", occurred_at=now),
                ResidentActivity(kind="unfollow", occurred_at=now),
            ]
        )
    assert kpi_command(wiring, as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["followers"] == 2
    assert figures["registrations"] == 1
    assert figures["programs_distributed"] == 0
    assert figures["deletions"] == 1 and figures["unfollows"] == 1
    assert figures["registrations_target"] == 5500


def test_timestamps_keep_the_moment_whatever_the_zone(wiring):
    """A UTC and a Tokyo datetime of one moment store and compare as the same moment."""
    from datetime import UTC, timedelta

    from sqlalchemy import select

    tokyo = wiring.clock.now()
    utc = tokyo.astimezone(UTC)
    with wiring.session_factory() as s, s.begin():
        s.add(ResidentActivity(kind="follow", occurred_at=utc))
    with wiring.session_factory() as s:
        stored = s.scalar(select(ResidentActivity.occurred_at))
        same = s.scalar(select(func.count()).where(ResidentActivity.occurred_at == tokyo))
        later = s.scalar(
            select(func.count()).where(ResidentActivity.occurred_at > tokyo - timedelta(hours=1))
        )
    assert stored == tokyo and stored.utcoffset() == timedelta(hours=9)
    assert same == 1 and later == 1


def test_trusted_proxy_gives_the_client_address(engine, clock):
    """Behind one trusted proxy the app sees the client's address, not the balancer's."""
    from flask import request

    from bot.app import create_app
    from bot.wiring import wire
    from tests.conftest import make_settings

    url = engine.url.render_as_string(hide_password=False)
    for proxies, expected in ((0, "10.0.0.1"), (1, "203.0.113.7")):
        app = create_app(
            wiring=wire(make_settings(url, trusted_proxies=proxies), clock=clock, engine=engine)
        )
        seen = []
        app.before_request(lambda seen=seen: seen.append(request.remote_addr))
        app.test_client().get(
            "/healthz",
            headers={"X-Forwarded-For": "203.0.113.7"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        )
        assert seen == [expected]
