"""The dashboard's snapshot: pages read the figures the scheduler computed, say when, and
count again when the snapshot is missing, too old, asked for, or of another configuration."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.admin import snapshot
from bot.admin.staff import create_staff
from bot.store.models import AuditEntry, DashboardSnapshot, SchedulerLease
from tests.admin import scenario
from tests.admin.conftest import csrf_token, log_in
from tests.admin.scenario import at, send_one_deferred, table_rows, text_of
from tests.conftest import DEFAULT_NOW

PASSWORD = "snapshot-test-password"


def client_as(app, wiring, role: str):
    """A test client logged in as a new staff member with `role`."""
    client = app.test_client()
    create_staff(wiring.session_factory, f"{role}-staff", PASSWORD, DEFAULT_NOW, role)
    assert log_in(client, f"{role}-staff", PASSWORD).status_code == 302
    return client


@pytest.fixture
def sender(app, wiring, rows):
    """A sender's client, after one fiscal year of activity (scenario.build)."""
    with rows as r:
        scenario.build(r)
    return client_as(app, wiring, "sender")


def november_sent(html: str) -> str:
    return {row[0]: row[1:] for row in table_rows(html, 'id="months"')[1:]}["2026年11月"][4]


def label(html: str) -> str:
    """「11月22日 10時00分時点の集計」: when the page's figures were counted."""
    return re.search(r'id="asof-label">([^<]+)</strong>', html).group(1)


def refresh_button(client, back: str = "index"):
    token = csrf_token(client, "/admin/")
    return client.post("/admin/refresh", data={"csrf_token": token, "back": back})


def test_a_page_shows_its_snapshot_with_its_time_until_a_refresh(sender, wiring, clock):
    """Counted at 10:00; data changes; at 10:02 the page still shows 10:00's figures, with
    that time; 「今すぐ更新」 counts again (audited) and the page shows 6 at 10時02分."""
    first = sender.get("/admin/").get_data(as_text=True)
    assert label(first) == "11月22日 10時00分時点の集計"
    assert "11月22日 10時00分時点の集計</strong>です。" in first
    assert november_sent(first) == "5"
    send_one_deferred(wiring)
    clock.advance(timedelta(minutes=2))
    stale = sender.get("/admin/").get_data(as_text=True)
    assert november_sent(stale) == "5" and label(stale) == "11月22日 10時00分時点の集計"
    done = refresh_button(sender)
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/")
    page = sender.get("/admin/").get_data(as_text=True)
    assert "集計を更新しました（11月22日 10時02分時点の集計）。" in page
    assert november_sent(page) == "6" and label(page) == "11月22日 10時02分時点の集計"
    with wiring.session_factory() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "dashboard_refreshed")
        ).one()
    assert entry.actor == "sender-staff" and entry.detail.startswith("took_ms=")


def test_after_new_residents_and_a_refresh_the_page_agrees_with_todoku_kpi(
    sender, wiring, rows, capsys
):
    """Three residents register after the snapshot: `todoku kpi --json` counts them at once
    (always live); after a refresh the page says the same."""
    from bot.cli import kpi_command

    sender.get("/admin/")
    with rows as r:
        r._n = 100  # LINE ids after the scenario's
        for _ in range(3):
            r.resident(district="大久保", registered_at=DEFAULT_NOW)
    capsys.readouterr()
    assert kpi_command(wiring, as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["registrations"] == scenario.REGISTRATIONS + 3
    before = sender.get("/admin/").get_data(as_text=True)
    card = text_of(before, 'id="kpi-registrations"', "</article>")
    assert f"{scenario.REGISTRATIONS} 人" in card
    refresh_button(sender)
    page = sender.get("/admin/").get_data(as_text=True)
    card = text_of(page, 'id="kpi-registrations"', "</article>")
    assert f"{figures['registrations']} 人 ／ 目標 5,500 人" in card
    assert f"{figures['followers']} 人" in text_of(page, 'id="followers"', "</dd>")
    assert dict(table_rows(page, 'id="districts"')[1:])["大久保"] == "10未満"


def test_a_snapshot_older_than_five_intervals_is_counted_again_by_the_page(sender, wiring, clock):
    """No scheduler ran for 5 minutes and 1 second: the page counts itself and says when."""
    sender.get("/admin/")
    send_one_deferred(wiring)
    clock.advance(timedelta(minutes=5))
    assert november_sent(sender.get("/admin/").get_data(as_text=True)) == "5"  # 5 min: still used
    clock.advance(timedelta(seconds=1))
    page = sender.get("/admin/").get_data(as_text=True)
    assert november_sent(page) == "6" and label(page) == "11月22日 10時05分時点の集計"


def test_a_snapshot_from_a_clock_set_back_or_another_release_is_not_used(sender, wiring, clock):
    """A snapshot computed 'after now', or stored in a shape this release does not know."""
    sender.get("/admin/")
    send_one_deferred(wiring)
    clock.advance(timedelta(minutes=-1))
    assert label(sender.get("/admin/").get_data(as_text=True)) == "11月22日 9時59分時点の集計"
    with wiring.session_factory() as s, s.begin():
        s.execute(update(DashboardSnapshot).values(figures={"format": 0}))
    assert snapshot.stored(wiring) is None
    assert november_sent(sender.get("/admin/").get_data(as_text=True)) == "6"


def test_every_dashboard_page_reads_the_same_snapshot(sender, wiring, clock):
    """Campaign results, their CSV, the KPI CSV and the plan's audiences: 10:00's figures
    until the refresh, then the new ones."""
    sender.get("/admin/")
    send_one_deferred(wiring)
    clock.advance(timedelta(minutes=1))

    def kosodate_sent() -> tuple[str, str]:
        html = sender.get("/admin/campaigns").get_data(as_text=True)
        return label(html), table_rows(html, 'id="campaign-kosodate-ouen-2026"')[1][2]

    def csv_november_sent() -> str:
        body = sender.get("/admin/export/kpi.csv").get_data(as_text=True)
        return next(line for line in body.splitlines() if line.startswith("2026年11月")).split(",")[
            5
        ]

    def campaigns_csv_sent() -> str:
        body = sender.get("/admin/export/campaigns.csv").get_data(as_text=True)
        return body.splitlines()[1].split(",")[4]  # the first run: sent

    assert kosodate_sent() == ("11月22日 10時00分時点の集計", "30")
    assert csv_november_sent() == "5" and campaigns_csv_sent() == "25"
    plan = sender.get("/admin/plan").get_data(as_text=True)
    assert label(plan) == "11月22日 10時00分時点の集計"
    done = refresh_button(sender, back="plan")
    assert done.headers["Location"].endswith("/admin/plan")
    assert kosodate_sent() == ("11月22日 10時01分時点の集計", "31")
    assert csv_november_sent() == "6" and campaigns_csv_sent() == "26"
    assert label(sender.get("/admin/plan").get_data(as_text=True)) == "11月22日 10時01分時点の集計"


def test_the_refresh_button_is_for_senders_and_admins(app, wiring):
    """A viewer sees when the figures were counted but no button (and gets 403 posting)."""
    viewer = client_as(app, wiring, "viewer")
    page = viewer.get("/admin/").get_data(as_text=True)
    assert "時点の集計</strong>です。" in page and "今すぐ更新" not in page
    assert refresh_button(viewer).status_code == 403
    admin = client_as(app, wiring, "admin")
    for path in ("/admin/", "/admin/campaigns", "/admin/plan"):
        html = admin.get(path).get_data(as_text=True)
        assert "今すぐ更新" in html and 'name="back"' in html, path


def test_with_a_scheduler_active_the_button_asks_it(sender, wiring, clock):
    """The lease is held: the button only marks the snapshot (audited); the page says a new
    count is coming; the scheduler's next look (tick) counts, and the page shows it."""
    sender.get("/admin/")
    with wiring.session_factory() as s, s.begin():
        s.add(
            SchedulerLease(
                name="scheduler", owner="t", expires_at=DEFAULT_NOW + timedelta(minutes=1)
            )
        )
    send_one_deferred(wiring)
    clock.advance(timedelta(seconds=20))
    assert snapshot.tick(wiring) is None  # 20 s old, nothing asked: not due
    refresh_button(sender)
    page = sender.get("/admin/").get_data(as_text=True)
    assert "集計の更新を依頼しました" in page and 'id="asof-pending"' in page
    assert november_sent(page) == "5"
    clock.advance(timedelta(seconds=5))
    assert snapshot.tick(wiring) is not None
    assert snapshot.tick(wiring) is None  # the request was answered
    page = sender.get("/admin/").get_data(as_text=True)
    assert november_sent(page) == "6" and 'id="asof-pending"' not in page
    assert label(page) == "11月22日 10時00分時点の集計"  # counted at 10:00:25
    with wiring.session_factory() as s:
        actions = list(
            s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "sender-staff"))
        )
    assert "dashboard_refresh_requested" in actions


def test_the_scheduler_refreshes_every_interval_and_on_a_configuration_change(wiring, clock):
    """Due when missing, after 60 s, and when the configuration in use changed."""
    assert snapshot.tick(wiring) is not None  # none yet
    clock.advance(timedelta(seconds=59))
    assert snapshot.tick(wiring) is None
    clock.advance(timedelta(seconds=1))
    assert snapshot.tick(wiring) is not None
    with wiring.session_factory() as s, s.begin():
        s.execute(update(DashboardSnapshot).values(config_key="another configuration"))
    assert snapshot.tick(wiring) is not None


def test_entering_hp_visitors_shows_at_once_without_a_scheduler(app, wiring, clock):
    """The page's form marks the snapshot: the page it returns to counts the new figure."""
    sender = client_as(app, wiring, "sender")
    sender.get("/admin/")
    clock.advance(timedelta(seconds=30))
    data = {"csrf_token": csrf_token(sender, "/admin/"), "month": "2026-10", "visitors": "4321"}
    page = sender.post("/admin/visits", data=data, follow_redirects=True).get_data(as_text=True)
    assert "4,321 人 （2026年10月）" in text_of(page, 'id="kpi-visits"', "</article>")
    assert label(page) == "11月22日 10時00分時点の集計"  # 10:00:30


def test_a_page_that_cannot_count_in_time_shows_the_last_snapshot_as_old(
    sender, wiring, clock, monkeypatch
):
    """Scheduler down and counting fails (the web's statement timeout at a large city's
    scale): the last snapshot, with its time and a warning, instead of an error page."""
    from sqlalchemy.exc import OperationalError

    sender.get("/admin/")
    clock.advance(timedelta(minutes=30))

    def too_slow(wiring):
        raise OperationalError("SELECT ...", {}, Exception("canceling statement"))

    monkeypatch.setattr(snapshot, "compute", too_slow)
    page = sender.get("/admin/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert label(html) == "11月22日 10時00分時点の集計"
    assert "いまの数字を集計できませんでした" in html


def test_snapshots_switched_off_count_on_every_page(engine, clock, rows):
    """TODOKU_DASHBOARD_REFRESH_SECONDS=0: every page counts live and stores nothing; the
    scheduler gets no job."""
    from bot.app import create_app
    from bot.wiring import wire
    from tests.conftest import make_settings

    url = engine.url.render_as_string(hide_password=False)
    wiring = wire(make_settings(url, dashboard_refresh_seconds=0), clock=clock, engine=engine)
    with rows as r:
        scenario.build(r)
    client = client_as(create_app(wiring=wiring), wiring, "viewer")
    first = client.get("/admin/").get_data(as_text=True)
    assert november_sent(first) == "5" and "集計し直しています" not in first
    send_one_deferred(wiring)
    assert november_sent(client.get("/admin/").get_data(as_text=True)) == "6"
    assert snapshot.stored(wiring) is None
    assert snapshot.scheduler_jobs(wiring) == []


def test_the_stored_snapshot_is_the_computed_one(sender, wiring, clock):
    """JSON there and back: every dataclass, date, tuple and dict key comes back equal."""
    computed = snapshot.refresh(wiring)
    back = snapshot.stored(wiring)
    assert back == computed
    assert back.dashboard.campaigns and back.details and back.audiences
    assert all(isinstance(key, tuple) for key in back.audiences)
    assert back.dashboard.now.tzinfo is not None and back.dashboard.now == DEFAULT_NOW


def test_a_slow_refresh_is_repeated_at_most_every_twice_its_duration(wiring, clock):
    """A refresh that took 40 s (a large city): due after 80 s, not 60; pages use it for
    5 × 80 s."""
    snapshot.refresh(wiring)
    with wiring.session_factory() as s, s.begin():
        s.execute(update(DashboardSnapshot).values(took_ms=40_000))
    clock.advance(timedelta(seconds=79))
    assert snapshot.tick(wiring) is None
    stored = snapshot.stored(wiring)
    assert snapshot.usable(stored, DEFAULT_NOW + timedelta(seconds=400), 60, stored.config_key)
    assert not snapshot.usable(stored, DEFAULT_NOW + timedelta(seconds=401), 60, stored.config_key)
    clock.advance(timedelta(seconds=1))
    assert snapshot.tick(wiring) is not None


def test_kept_send_times_follow_a_notice_sent_later(sender, wiring):
    """The runs' send times are kept under the data version: a deferred notice sent on
    11-20 moves its run's last send time at the next refresh."""
    first_run = min(snapshot.refresh(wiring).details)
    before = snapshot.refresh(wiring).details[first_run]  # the second: from the cache
    assert before.last_sent == at("2026-10-01 10:00")
    send_one_deferred(wiring)
    after = snapshot.refresh(wiring).details[first_run]
    assert after.first_sent == at("2026-10-01 10:00")
    assert after.last_sent == at("2026-11-20 10:00")
