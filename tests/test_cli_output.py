"""What the printing commands of bot/cli.py write: the services return data, cli.py prints.

The words are staff's contract (docs/contracts.md); these pin the lines that moved from the
services into bot/cli.py, with no personal data in them.
"""

from __future__ import annotations

import datetime as dt

from argon2 import profiles

from bot.cli import purge_command, staff_add_command, staff_passwd_command, staff_remove_command
from bot.store.engine import transaction
from bot.store.models import AuditEntry, Resident
from tests.conftest import DEFAULT_NOW


def test_purge_prints_how_many_were_removed(wiring, capsys):
    gone = DEFAULT_NOW - dt.timedelta(days=31)
    with transaction(wiring.session_factory) as session:
        session.add(Resident(line_user_id="U" + "a" * 32, following=False, unfollowed_at=gone))
    assert purge_command(wiring) == 0
    out = capsys.readouterr().out
    assert out == "purged 1 resident(s) who unfollowed more than 30 days ago\n"
    assert "U" + "a" * 32 not in out


def test_staff_commands_print_what_they_did_and_audit_the_cli_user(wiring, capsys, monkeypatch):
    monkeypatch.setattr("bot.admin.staff.PARAMETERS", profiles.CHEAPEST)
    password = "a-long-enough-password"
    assert staff_add_command(wiring, " 佐藤 ", password, "sender") == 0
    assert capsys.readouterr().out == (
        "職員「佐藤」を登録しました（役割: 配信 sender）。/admin/login からログインできます。\n"
    )
    assert staff_passwd_command(wiring, "佐藤", password + "!") == 0
    assert "職員「佐藤」のパスワードを変更しました。" in capsys.readouterr().out
    assert staff_remove_command(wiring, "佐藤") == 0
    assert capsys.readouterr().out == (
        "職員「佐藤」を削除しました。ログイン中の画面も使えなくなります。\n"
    )
    with wiring.session_factory() as session:
        entries = session.query(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id).all()
    assert [a for _, a in entries] == ["staff_added", "staff_password_changed", "staff_removed"]
    assert all(actor.startswith("cli") for actor, _ in entries)
    assert password not in str(entries)
