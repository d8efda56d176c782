"""`todoku staff add NAME`: the password is asked twice, hidden, never taken from arguments."""

from __future__ import annotations

from sqlalchemy import select

from bot.admin.staff import authenticate
from bot.store.models import AuditEntry, StaffUser
from tests.helpers import todoku


def test_staff_add_asks_twice_and_creates_a_login(engine, wiring):
    """The password typed twice becomes an Argon2id hash; the creation is audited."""
    password = "kozakura-no-saku-koro"
    done = todoku(engine, "staff", "add", "佐藤 花子", stdin=f"{password}\n{password}\n")
    assert done.returncode == 0, done.stderr
    assert "職員「佐藤 花子」を登録しました" in done.stdout
    assert password not in done.stdout + done.stderr
    with wiring.session_factory() as s:
        user = s.scalars(select(StaffUser)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert authenticate(s, "佐藤 花子", password) is not None
        entry = s.scalars(select(AuditEntry)).one()
    assert entry.actor.startswith("cli") and entry.action == "staff_added"
    assert entry.detail == "name=佐藤 花子 role=viewer" and user.role == "viewer"


def test_staff_add_refuses_weak_passwords_taken_names_and_arguments(engine, wiring):
    """Too short: exit 1 saying 12 characters; a taken name: exit 1; --password: usage error."""
    short = todoku(engine, "staff", "add", "tanaka", stdin="short-pass\nshort-pass\n")
    assert short.returncode == 1
    assert "12文字以上" in short.stderr
    good = "a-long-enough-password\n" * 2
    assert todoku(engine, "staff", "add", "tanaka", stdin=good).returncode == 0
    again = todoku(engine, "staff", "add", "tanaka", stdin=good)
    assert again.returncode == 1
    assert "すでに登録されています" in again.stderr
    flag = todoku(engine, "staff", "add", "suzuki", "--password", "x" * 20, stdin="")
    assert flag.returncode == 2
    with wiring.session_factory() as s:
        assert s.scalars(select(StaffUser.name)).all() == ["tanaka"]
