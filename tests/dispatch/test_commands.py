"""`todoku plan` and `todoku send`: shapes, exit codes, dry run, and the staff test send."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from bot.cli import plan_command, send_command
from bot.clock import TOKYO
from bot.dispatch.plan import staff_test_send
from bot.errors import OutsideWindow, UnknownCampaign, UserError
from bot.store.models import AuditEntry, CampaignRun, Delivery, SendBatch
from tests.dispatch.conftest import FAST, multicasts, notices
from tests.helpers import run_todoku


def count(wiring, model) -> int:
    with wiring.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_plan_json_has_the_contract_shape(line, people, capsys):
    """{"campaigns": [{"id", "slots": [{"at", "audience"}]}]}, slots after --at only."""
    people.many(2)
    people.add(age=30)
    assert plan_command(line, "2026-11-22T10:00:00+09:00", as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in doc["campaigns"]] == ["senior-2026", "reform-2026"]
    senior = doc["campaigns"][0]
    assert senior["slots"] == [
        {"at": "2026-11-25T10:00:00+09:00", "audience": 2},
        {"at": "2027-01-27T10:00:00+09:00", "audience": 2},
    ]
    assert all(set(s) == {"at", "audience"} for c in doc["campaigns"] for s in c["slots"])


def test_plan_table_names_programs_kinds_and_previews_the_notice(line, people, capsys):
    """The human table: program name, 初回/リマインド, time, audience, and the next notice."""
    people.add()
    plan_command(line, None, as_json=False)
    out = capsys.readouterr().out
    for text in (
        "シニア世代スマホスタート応援補助金",
        "初回",
        "リマインド",
        "2026-11-25 10:00",
        "くわしく見る",
        "申請しました",
    ):
        assert text in out


def test_dry_run_prints_the_audience_and_writes_nothing(line, people, sim, capsys):
    """--dry-run: the size and the text, no run, no delivery, nothing sent."""
    people.many(3)
    assert send_command(line, "senior-2026", dry_run=True, to=()) == 0
    out = capsys.readouterr().out
    assert "3 人" in out and "スマートフォンを買う費用の補助があります。" in out
    assert count(line, CampaignRun) == count(line, Delivery) == 0
    assert multicasts(sim) == []


def test_send_runs_a_slot_now_and_prints_the_counts(line, people, sim, capsys):
    """Inside the window the slot runs at once and the counts are printed; an audit entry."""
    people.many(2)
    assert send_command(line, "senior-2026", dry_run=False, to=()) == 0
    assert "sent 2" in capsys.readouterr().out
    assert len(multicasts(sim)) == 1
    with line.session_factory() as session:
        assert session.scalar(select(AuditEntry.action)) == "manual_send"


def test_send_outside_the_window_says_when_it_opens(line, clock):
    """At 21:00 with window 08:00-20:00: a user error naming tomorrow 08:00."""
    clock.set(dt.datetime(2026, 11, 22, 21, 0, tzinfo=TOKYO))
    with pytest.raises(OutsideWindow) as info:
        send_command(line, "senior-2026", dry_run=False, to=())
    assert "2026-11-23 08:00" in str(info.value)
    assert count(line, CampaignRun) == 0


def test_unknown_campaign_lists_the_valid_ids(line):
    """An unknown campaign is a user error that lists the campaigns."""
    with pytest.raises(UnknownCampaign) as info:
        send_command(line, "nope", dry_run=True, to=())
    assert "senior-2026" in str(info.value) and "reform-2026" in str(info.value)


def test_the_test_send_reaches_only_staff_and_writes_no_delivery(line, people, sim, capsys):
    """--to: marked 【テスト配信】, only to the given ids; audited; no Delivery, no batch."""
    residents = people.many(2)
    staff = people.add(age=30)[1]
    assert send_command(line, "senior-2026", dry_run=False, to=(staff,)) == 0
    assert "senior-2026: テスト配信を 1 人に送りました（" in capsys.readouterr().out
    [notice] = notices(sim, staff)
    assert notice["altText"].startswith("【テスト配信】")
    assert all(notices(sim, u) == [] for u in residents)
    assert count(line, Delivery) == count(line, SendBatch) == count(line, CampaignRun) == 0
    with line.session_factory() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "test_send" and staff not in entry.detail
    assert entry.actor.startswith("cli")
    # and the real slot later still reaches everyone eligible: a test is not "already told"
    assert send_command(line, "senior-2026", dry_run=False, to=()) == 0


def test_the_test_send_refuses_what_is_not_a_line_user_id(line):
    """A typo in --to is a user error before anything is sent."""
    campaign = line.config.campaign("senior-2026")
    with pytest.raises(UserError):
        staff_test_send(line, campaign, ["taro"], policy=FAST, actor="test")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["send", "nope", "--dry-run"], 1, "senior-smartphone-2026"),
        (["plan", "--at", "tomorrow"], 1, "ISO date-time"),
        (["send"], 2, "Missing argument"),
    ],
)
def test_exit_codes_of_the_real_command_line(tmp_path, args, code, says):
    """User errors exit 1 with what to do; usage errors exit 2."""
    from tests.conftest import SAMPLE_CONFIG

    env = {"TODOKU_CONFIG": str(SAMPLE_CONFIG), "DATABASE_URL": f"sqlite:///{tmp_path}/t.db"}
    # A migrated database: without one, every command says `run todoku db upgrade` first.
    assert run_todoku("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = run_todoku(*args, env=env, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert says in result.stderr


@pytest.mark.parametrize(
    "args",
    [["plan", "--at", "2026-12-01T09:00"], ["send", "senior-smartphone-2026", "--dry-run"]],
    ids=["plan", "dry run"],
)
def test_previews_are_printed_without_importing_the_line_sdk(tmp_path, args):
    """Staff wait for `todoku plan` and `--dry-run`: their previews come from the notice as
    LINE's JSON, not from the SDK's models (~2 s to import, most of the command's time)."""
    from tests.conftest import SAMPLE_CONFIG

    env = {"TODOKU_CONFIG": str(SAMPLE_CONFIG), "DATABASE_URL": f"sqlite:///{tmp_path}/t.db"}
    assert run_todoku("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = run_todoku(*args, env=env, cwd=tmp_path, python=("-X", "importtime"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[通知] " in result.stdout and "[くわしく見る]" in result.stdout, result.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert [m for m in imported if m.split(".")[0] == "linebot"] == []
