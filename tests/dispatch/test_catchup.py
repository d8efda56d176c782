"""Catch-up: who becomes eligible after a campaign's slot ran gets its announcement, once.

Residents register and change answers through linesim's signed webhooks (the live bot);
the catch-up pass sends through linesim too, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict

import pytest
from sqlalchemy import func, insert, select
from werkzeug.serving import make_server

from bot.clock import TOKYO
from bot.dispatch.catchup import catch_up
from bot.dispatch.resume import resume_unfinished, send_deferred
from bot.dispatch.run import run_slot
from bot.store.models import (
    BatchStatus,
    CampaignRun,
    CatchupMark,
    Delivery,
    ProgramResponse,
    Resident,
    RunKind,
    SendBatch,
)
from tests.conftest import REPO
from tests.dispatch.conftest import FAST, NOW, multicasts, write_config
from tests.registration.chat import Chat, _actions

MINUTE = dt.timedelta(minutes=1)
SENIOR_LEAD = "スマートフォンを買う費用の補助があります。"


@pytest.fixture
def bot(line, linesim_server, sim):
    """The live bot (webhook) on the dispatcher tests' configuration, wired to linesim."""
    from bot.app import create_app

    app = create_app(wiring=line)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="catchup-bot", daemon=True)
    thread.start()
    sim.set_webhook(f"http://127.0.0.1:{server.server_port}/callback")
    yield line
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def register(sim, born: str, topics: tuple[str, ...] = ()) -> Chat:
    """A resident follows, consents, gives a birth date and topics: registered."""
    chat = Chat(sim)
    chat.follow()
    chat.tap("同意して登録する")
    chat.tap("カレンダーで選ぶ", date=born)
    for topic in topics:
        chat.tap(topic)
    chat.tap("完了")
    return chat


def change_birth_date(chat: Chat, born: str) -> None:
    """登録内容の確認・変更 → 変更 on the birth date row (the first question) → a new date."""
    shown = chat.menu("review")
    changes = [a for a in _actions(shown) if a.get("label") == "変更"]
    chat.sim.postback(chat.user_id, changes[0]["data"])
    chat.new()
    chat.tap("カレンダーで選ぶ", date=born)


def notices(sim, user_id: str) -> list[dict]:
    """The notices pushed to a resident by multicast (not the bot's replies)."""
    return [m["message"] for m in sim.messages(user_id) if m["via"] == "multicast"]


def slot_ran(line, *campaigns: str) -> None:
    """The campaigns' first slot (11-22 10:00) ran, before the residents below registered."""
    for campaign in campaigns or ("senior-2026", "reform-2026"):
        run_slot(line, campaign, NOW, policy=FAST)


def mark(line, resident_ids: list[int]) -> None:
    """What the dialog writes on registering / changing an answer, for residents made here."""
    with line.session_factory() as session, session.begin():
        session.execute(
            insert(CatchupMark),
            [{"resident_id": r, "marked_at": line.clock.now()} for r in resident_ids],
        )


def catchup_rows(line) -> list[tuple[str, str]]:
    """(campaign id, status) of every catch-up delivery."""
    with line.session_factory() as session:
        query = (
            select(CampaignRun.campaign_id, Delivery.status)
            .join(CampaignRun, CampaignRun.id == Delivery.run_id)
            .where(CampaignRun.kind == RunKind.CATCHUP)
        )
        return sorted(session.execute(query).all())


def test_registering_after_the_slot_brings_the_announcement_once(bot, sim, clock):
    """Registered after the slot, eligible: one notice within a minute; never a second one."""
    slot_ran(bot)
    chat = register(sim, "1950-04-10")  # 76: senior-smartphone; no 住まい: not reform's audience
    clock.advance(MINUTE)
    summary = catch_up(bot, policy=FAST)
    assert summary.recorded == {"senior-2026": 1} and summary.marks == 1
    [notice] = notices(sim, chat.user_id)
    assert notice["altText"].startswith(SENIOR_LEAD)  # the campaign's announcement
    clock.advance(MINUTE)
    catch_up(bot, policy=FAST)
    # The campaign's next (not reminder) slot does not repeat it either.
    run_slot(bot, "senior-2026", dt.datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO), policy=FAST)
    assert len(notices(sim, chat.user_id)) == 1
    assert catchup_rows(bot) == [("senior-2026", "sent")]
    sim.assert_no_problems()


def test_registering_ineligible_or_becoming_ineligible_brings_nothing(bot, sim, clock):
    """Too young at registration, or changed to too young before the pass: nothing."""
    slot_ran(bot)
    young = register(sim, "1990-06-15")
    changed = register(sim, "1950-04-10")
    change_birth_date(changed, "1991-01-01")
    clock.advance(MINUTE)
    assert catch_up(bot, policy=FAST).recorded == {}
    assert notices(sim, young.user_id) == [] and notices(sim, changed.user_id) == []
    assert multicasts(sim) == []


def test_a_changed_answer_that_makes_a_resident_eligible_brings_it_flipping_brings_no_more(
    bot, sim, clock
):
    """Ineligible → eligible: one notice; → ineligible → eligible again: still one."""
    slot_ran(bot)
    chat = register(sim, "1990-06-15")
    clock.advance(MINUTE)
    catch_up(bot, policy=FAST)
    assert notices(sim, chat.user_id) == []
    change_birth_date(chat, "1950-04-10")
    clock.advance(MINUTE)
    catch_up(bot, policy=FAST)
    assert len(notices(sim, chat.user_id)) == 1
    for born in ("1990-06-15", "1950-04-10"):
        change_birth_date(chat, born)
        clock.advance(MINUTE)
        catch_up(bot, policy=FAST)
    assert len(notices(sim, chat.user_id)) == 1
    assert catchup_rows(bot) == [("senior-2026", "sent")]


def test_nothing_before_the_campaigns_slot_ran_the_slot_reaches_them(bot, sim, clock):
    """No slot yet: the mark is cleared, no catch-up; the slot itself then tells them once."""
    chat = register(sim, "1950-04-10")
    clock.advance(MINUTE)
    summary = catch_up(bot, policy=FAST)
    assert summary.recorded == {} and summary.marks == 1
    slot_ran(bot, "senior-2026")
    clock.advance(MINUTE)
    catch_up(bot, policy=FAST)
    assert len(notices(sim, chat.user_id)) == 1
    assert catchup_rows(bot) == []


def test_imported_residents_get_no_catch_up(line, people, sim, clock, tmp_path):
    """`todoku residents import` after the slot is data migration: no catch-up notice."""
    from bot.residents.importer import import_residents

    slot_ran(line)
    user = people.state.create_user("移行 太郎")
    people.state.set_following(user, True)
    user = user.user_id
    path = tmp_path / "residents.jsonl"
    path.write_text(
        json.dumps({"line_user_id": user, "birth_date": "1950-04-10", "interests": ["住まい"]})
        + "\n",
        encoding="utf-8",
    )
    assert import_residents(line.engine, path, line.config, now=clock.now()) == 1
    clock.advance(MINUTE)
    assert catch_up(line, policy=FAST).marks == 0
    with line.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(CatchupMark)) == 0
    assert multicasts(sim) == [] and catchup_rows(line) == []


def test_residents_marked_in_the_same_minute_share_one_multicast(line, people, sim, clock):
    """Many registrations in one minute: one catch-up run, one multicast for all of them."""
    slot_ran(line)
    made = [people.add(age=70) for _ in range(5)]
    mark(line, [r for r, _ in made])
    clock.advance(MINUTE)
    assert catch_up(line, policy=FAST).recorded == {"senior-2026": 5}
    [request] = multicasts(sim)
    assert sorted(request["body"]["to"]) == sorted(u for _, u in made)
    # Later the same day: the same catch-up run, a new batch for the new registrant.
    late = people.add(age=70)
    mark(line, [late[0]])
    clock.advance(dt.timedelta(hours=2))
    catch_up(line, policy=FAST)
    assert len(notices(sim, late[1])) == 1 and len(multicasts(sim)) == 2
    with line.session_factory() as session:
        runs = session.scalars(select(CampaignRun).where(CampaignRun.kind == RunKind.CATCHUP)).all()
    assert [(r.status, r.slot_at) for r in runs] == [("done", NOW + MINUTE)]


def test_not_for_programs_answered_applied_or_not_needed(line, people, sim, clock):
    """申請済み / 対象外・不要 for the program: no catch-up notice about it."""
    slot_ran(line)
    resident, user = people.add(age=70)
    with line.session_factory() as session, session.begin():
        session.add(
            ProgramResponse(
                resident_id=resident,
                program_id="senior-smartphone",
                answer="applied",
                answered_at=NOW,
            )
        )
    mark(line, [resident])
    clock.advance(MINUTE)
    assert catch_up(line, policy=FAST).recorded == {}
    assert notices(sim, user) == []


def test_outside_the_window_the_notice_goes_at_the_next_opening(line, people, sim, clock):
    """Registered at 21:30 (window 08:00-20:00): nothing at night, the notice at 08:00."""
    slot_ran(line)
    clock.set(dt.datetime(2026, 11, 22, 21, 30, tzinfo=TOKYO))
    resident, user = people.add(age=70)
    mark(line, [resident])
    for _ in range(3):
        clock.advance(dt.timedelta(hours=3))  # 00:30, 03:30, 06:30
        assert catch_up(line, policy=FAST).marks == 0
    assert notices(sim, user) == []
    clock.set(dt.datetime(2026, 11, 23, 8, 0, tzinfo=TOKYO))
    assert catch_up(line, policy=FAST).recorded == {"senior-2026": 1}
    [request] = multicasts(sim)
    assert request["at"] >= "2026-11-22T23:00"  # 08:00 Tokyo, as linesim's UTC clock says
    assert len(notices(sim, user)) == 1


def test_the_weekly_cap_defers_a_catch_up_like_any_notice(tmp_path, line, people, sim, clock):
    """max_per_week 1: of two catch-ups due at once, one goes now, one on a day with room."""
    write_config(line.settings.config_dir, max_per_week=1)
    line.config_holder.reload_if_changed()
    assert line.config.delivery.max_per_week == 1
    slot_ran(line)
    resident, user = people.add(age=70, interests=("住まい",))
    mark(line, [resident])
    clock.advance(MINUTE)
    assert catch_up(line, policy=FAST).recorded == {"senior-2026": 1, "reform-2026": 1}
    assert len(notices(sim, user)) == 1
    with line.session_factory() as session:
        deferred = session.scalar(select(Delivery).where(Delivery.status == "deferred"))
    assert "max_per_week" in deferred.reason
    assert deferred.defer_until >= NOW + dt.timedelta(days=7)  # room only after a week
    clock.set(deferred.defer_until)
    assert send_deferred(line, policy=FAST) == 1
    assert len(notices(sim, user)) == 2
    assert sorted(s for _, s in catchup_rows(line)) == ["sent", "sent"]


def test_no_catch_up_once_the_program_closed(line, people, sim, clock):
    """jutaku-reform closed 12-25: registering on 12-26 brings only still-open programs."""
    slot_ran(line)
    clock.set(dt.datetime(2026, 12, 26, 9, 0, tzinfo=TOKYO))
    resident, user = people.add(age=70, interests=("住まい",))
    mark(line, [resident])
    assert catch_up(line, policy=FAST).recorded == {"senior-2026": 1}
    [notice] = notices(sim, user)
    assert notice["altText"].startswith(SENIOR_LEAD)


def test_the_scheduler_runs_the_catch_up_every_minute_on_the_dispatch_thread(line):
    """The active scheduler has a one-minute catch-up job next to the slots and the tick."""
    from bot.dispatch import scheduler as clock_process

    scheduler = clock_process.build_scheduler(line)
    clock_process.add_dispatch_jobs(scheduler, line, clock_process.Lease(line.session_factory, "t"))
    job = scheduler.get_job("catchup")
    assert job.executor == "dispatch" and job.trigger.interval == MINUTE


def stranded(line) -> int:
    """How many batches are recorded with their key but not confirmed by LINE."""
    with line.session_factory() as session:
        query = select(func.count()).where(SendBatch.status == BatchStatus.PENDING)
        return session.scalar(query) or 0


def test_a_catch_up_killed_mid_send_is_resumed_exactly_once(line, people, sim, clock):
    """kill -9 of a real process between two multicasts: resumed, each resident told once."""
    slot_ran(line)
    made = [people.add(age=70) for _ in range(3)] + [(None, u) for u in people.crowd(1197, age=70)]
    with line.session_factory() as session:
        ids = list(session.scalars(select(Resident.id)))
    mark(line, ids)
    users = [u for _, u in made]
    sim.faults(latency_ms=3000)  # LINE answers after 3 s: the process dies meanwhile
    clock.advance(MINUTE)
    code = (
        "import datetime as dt, sys\n"
        "from bot.clock import FixedClock\n"
        "from bot.wiring import wire\n"
        "from bot.dispatch.catchup import catch_up\n"
        "from tests.conftest import make_settings\n"
        "from tests.dispatch.conftest import FAST\n"
        "url, config, sim, now = sys.argv[1:5]\n"
        "settings = make_settings(url, config_dir=config, line_api_base=sim,"
        " line_api_data_base=sim, public_url='https://todoku.example.jp',"
        " line_timeout_seconds=10.0)\n"
        "catch_up(wire(settings, clock=FixedClock(dt.datetime.fromisoformat(now))), policy=FAST)\n"
    )
    settings = line.settings
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            settings.database_url,
            str(settings.config_dir),
            settings.line_api_base,
            clock.now().isoformat(),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        # Start-up and recording take long on a loaded machine: kill -9 as soon as a batch
        # is recorded with its retry key (its request is then on its way or at LINE).
        deadline = time.monotonic() + 300
        while not stranded(line) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the catch-up finished (or failed) before the kill"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert stranded(line)  # recorded, unconfirmed: mid-send
    sim.faults()
    time.sleep(3.5)  # what LINE had received before the kill is delivered meanwhile
    resume_unfinished(line, policy=FAST)
    assert all(len(notices(sim, u)) == 1 for u in users)
    seen = defaultdict(set)
    for request in multicasts(sim):
        seen[request["retry_key"]].add(tuple(request["body"]["to"]))
    assert len(seen) == 3 and all(len(lists) == 1 for lists in seen.values())
    assert {s for _, s in catchup_rows(line)} == {"sent"}
    clock.advance(MINUTE)
    assert catch_up(line, policy=FAST).marks == 0  # the killed pass had cleared the marks
    assert all(len(notices(sim, u)) == 1 for u in users)


def test_plan_and_kpi_show_catch_up_deliveries_apart_from_slots(line, people, sim, clock, capsys):
    """`todoku plan --json` has per campaign a "catchup" count; `kpi --json` catchup_sent."""
    from bot.cli import kpi_command, plan_command

    people.add(age=70)  # reached by the slot, not a catch-up
    slot_ran(line)
    resident, _ = people.add(age=70)
    mark(line, [resident])
    clock.advance(MINUTE)
    catch_up(line, policy=FAST)
    capsys.readouterr()
    assert plan_command(line, None, as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    catchup = {c["id"]: c["catchup"] for c in doc["campaigns"]}
    assert catchup == {"senior-2026": {"sent": 1}, "reform-2026": {}}
    assert plan_command(line, None, as_json=False) == 0
    assert "追いかけ配信" in capsys.readouterr().out
    assert kpi_command(line, as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["catchup_sent"] == 1


def test_the_dashboard_lists_catch_up_runs_apart_from_slot_runs(line, people, sim, clock):
    """A campaign's catch-up run is its own row, labelled 追いかけ配信, in the page and CSV."""
    from bot.admin.export import campaigns_csv
    from bot.admin.report import dashboard

    slot_ran(line)
    resident, _ = people.add(age=70)
    mark(line, [resident])
    clock.advance(MINUTE)
    catch_up(line, policy=FAST)
    with line.session_factory() as session:
        page = dashboard(session, line.config, clock.now())
    [senior] = [c for c in page.campaigns if c.campaign_id == "senior-2026"]
    assert [(r.kind, r.deliveries["sent"]) for r in senior.runs] == [("slot", 0), ("catchup", 1)]
    assert "2026-11-22 追いかけ配信" in campaigns_csv(page.campaigns)


def test_upgrading_a_sqlite_database_keeps_runs_and_deliveries(tmp_path):
    """0001 → head copies campaign_runs (SQLite batch) without cascading to the deliveries."""
    from sqlalchemy import text

    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", create=True)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO campaign_runs (id, campaign_id, program_id, slot_at, status, reminder,"
                " started_at) VALUES (1, 'c', 'p', '2026-11-22 01:00:00', 'done', 0,"
                " '2026-11-22 01:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO residents (id, line_user_id, following, children_answered,"
                " notices_paused) VALUES (1, 'U1', 1, 0, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (run_id, program_id, resident_id, status, created_at)"
                " VALUES (1, 'p', 1, 'sent', '2026-11-22 01:00:00')"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM deliveries")) == 1
        assert conn.scalar(text("SELECT kind FROM campaign_runs")) == "slot"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    engine.dispose()


def test_a_deletion_waits_for_the_catch_up_pass_that_names_the_resident(line, people, sim, clock):
    """「削除する」 while a catch-up pass is recording (PostgreSQL): the deletion waits for the
    pass to commit, then unnames the resident's new row — deliveries have no foreign key
    to residents, and no row may name someone who is gone."""
    from sqlalchemy import delete

    from bot.dispatch.catchup import record_catchup
    from bot.store import queries
    from tests.helpers import (
        assert_no_delivery_names_a_missing_resident,
        in_thread,
        wait_for_lock_waits,
    )

    if line.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a deletion and a pass never overlap")
    slot_ran(line)
    made = [people.add(age=70) for _ in range(3)]
    mark(line, [r for r, _ in made])
    clock.advance(MINUTE)
    victim = made[1][0]

    def delete_victim() -> None:
        with line.engine.begin() as conn:
            conn.execute(delete(Resident).where(Resident.id == victim))

    with line.engine.connect() as holding, line.engine.connect() as watching:
        held = holding.begin()
        for campaign in line.config.campaigns:  # the pass waits at its first campaign's lock,
            queries.lock_campaign(holding, campaign.id)  # its residents' lock already taken
        passing, passed = in_thread(lambda: record_catchup(line, line.clock.now()))
        wait_for_lock_waits(watching, 1)
        deleting, deleted = in_thread(delete_victim)
        wait_for_lock_waits(watching, 2)  # the deletion, behind the pass
        held.rollback()
        passing.join(10)
        deleting.join(10)
    [summary] = passed
    assert summary.recorded == {"senior-2026": 3}
    assert deleted == [None]
    with line.session_factory() as session:
        named = list(
            session.scalars(
                select(Delivery.resident_id)
                .join(CampaignRun, CampaignRun.id == Delivery.run_id)
                .where(CampaignRun.kind == RunKind.CATCHUP)
            )
        )
    assert len(named) == 3 and named.count(None) == 1 and victim not in named
    assert_no_delivery_names_a_missing_resident(line)
