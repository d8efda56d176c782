"""No traceback for a user's mistake: every database command on a never-migrated database,
a bad or unreachable DATABASE_URL says what to do in one message and exits 1; an unexpected
error prints one line with a reference to its saved details (issue 9, items 4 and 5)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import SAMPLE_CONFIG
from tests.helpers import mentions_year, run_todoku

NO_TABLES = "the database has no Todoku tables: run `todoku db upgrade`"
USER = "U0123456789abcdef0123456789abcdef"
COMMANDS = [
    ["kpi"],
    ["plan"],
    ["audience", "senior-smartphone-2026"],
    ["send", "senior-smartphone-2026", "--dry-run"],
    ["send", "senior-smartphone-2026"],
    ["residents", "import", "residents.jsonl"],
    ["residents", "purge"],
    ["staff", "add", "sato"],
]


def _run(args, database_url, cwd):
    line = {"line_user_id": USER, "birth_date": "1958-07-03", "district": "楯岡"}
    (cwd / "residents.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n")
    env = {
        "DATABASE_URL": database_url,
        "TODOKU_CONFIG": str(SAMPLE_CONFIG),
        "LINE_CHANNEL_SECRET": "s",
        "LINE_CHANNEL_ACCESS_TOKEN": "t",
        "TODOKU_SECRET_KEY": "k",
    }
    return run_todoku(*args, env=env, cwd=cwd)


def _assert_one_message(result, says: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().splitlines() == [f"error: {says}"] or (
        says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    ), result.stderr
    # The resident's data from the file never reaches the terminal.
    assert USER not in result.stderr + result.stdout
    assert not mentions_year(result.stderr + result.stdout, 1958)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_missing_sqlite_database_says_run_db_upgrade_and_creates_no_file(tmp_path, args):
    """A never-created SQLite file: one message, exit 1, and no empty file left behind."""
    result = _run(args, f"sqlite:///{tmp_path}/todoku.db", tmp_path)
    _assert_one_message(result, NO_TABLES)
    assert not (tmp_path / "todoku.db").exists()


@pytest.fixture(scope="module")
def new_pg_database(pg_url):
    """Make PostgreSQL databases that `todoku db upgrade` never ran on; dropped at the end."""
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    names = []

    def make() -> str:
        names.append(f"todoku_empty_{uuid.uuid4().hex[:8]}")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{names[-1]}"'))
        return pg_url.rsplit("/", 1)[0] + "/" + names[-1]

    yield make
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def empty_pg_database(new_pg_database) -> str:
    """One never-migrated PostgreSQL database for the module's read-only checks."""
    return new_pg_database()


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_never_migrated_database_says_run_db_upgrade(tmp_path, args, empty_pg_database):
    """The same on a PostgreSQL database without Todoku's tables, and on an empty SQLite file."""
    _assert_one_message(_run(args, empty_pg_database, tmp_path), NO_TABLES)
    (tmp_path / "empty.db").touch()
    _assert_one_message(_run(args, f"sqlite:///{tmp_path}/empty.db", tmp_path), NO_TABLES)


@pytest.mark.parametrize("args", [["kpi"], ["residents", "import", "residents.jsonl"]])
def test_unreachable_or_malformed_database_url(tmp_path, args):
    """An unreachable server or a URL that is no database URL: one message, exit 1."""
    result = _run(args, "postgresql+psycopg://todoku:s3cret@127.0.0.1:9/todoku", tmp_path)
    _assert_one_message(result, "cannot connect to the database at")
    assert "s3cret" not in result.stderr
    result = _run(args, "not-a-database-url", tmp_path)
    _assert_one_message(result, "DATABASE_URL: is not a database URL")


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_unexpected_database_error_is_one_line_with_a_reference(
    tmp_path, backend_name, new_pg_database
):
    """A schema damaged by hand is no user mistake: one line, the class, a saved traceback."""
    url = new_pg_database() if backend_name == "postgresql" else f"sqlite:///{tmp_path}/t.db"
    assert run_todoku("db", "upgrade", env={"DATABASE_URL": url}).returncode == 0
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE clicks"))
    engine.dispose()
    result = _run(["kpi"], url, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unexpected "), result.stderr
    saved = Path(lines[0].rsplit("details in ", 1)[1])
    assert "Traceback" in saved.read_text()
