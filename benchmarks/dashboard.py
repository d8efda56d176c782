"""Dashboard benchmark on PostgreSQL: 1,000,000 residents and 10,000,000 deliveries.

    .venv/bin/python -m benchmarks.dashboard                      # a throwaway cluster
    .venv/bin/python -m benchmarks.dashboard --db postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python -m benchmarks.dashboard --residents 100000 --deliveries 1000000

Rows are generated inside PostgreSQL (generate_series): residents over the 8 sample
districts and 90 years of birth dates, 100 finished campaign runs of the sample campaigns
(1 % failed with LINE's message, 3 % skipped), 200,000 clicks, 50,000 answers, one
website-visitor figure per month. Then:

1. the dashboard's snapshot is refreshed as the scheduler does it (bot.admin.snapshot.tick
   → refresh: every figure counted live, stored as one row): the first refresh (the
   per-process cache of delivery figures empty, as after a change of the deliveries) and
   then `--refresh-repeat` more (cache warm, data unchanged); and the scheduler's poll
   when nothing is due;
2. with a logged-in staff client of the real app, each dashboard page is fetched several
   times (median reported): the pages read the snapshot.

Floors measured in the same run: a bare `SELECT count(*)` over the deliveries, and the
bare Flask page /admin/staff (login check, template, one tiny query). The database is
emptied first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime

from sqlalchemy import Engine, text

from benchmarks.segments import fresh_schema
from bot.clock import TOKYO, FixedClock
from bot.store.engine import make_engine

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)
DISTRICTS = "ARRAY['楯岡','西郷','大久保','冨本','戸沢','袖崎','大倉','富並']"
RUNS = 100


def generate(engine: Engine, config, residents: int, deliveries: int) -> dict[str, float]:
    """Fill the tables with generate_series; seconds per step."""
    took = {}
    per_run = deliveries // RUNS
    campaigns = [(c.id, c.program) for c in config.campaigns]
    steps = {
        "residents": f"""
            INSERT INTO residents (id, line_user_id, following, followed_at, consented_at,
                registered_at, birth_date, district, household_size, pregnant, single_parent,
                children_answered, notices_paused, created_at, updated_at)
            SELECT g, 'U' || lpad(to_hex(g), 32, '0'), g % 20 <> 0, t, t, t,
                   date '1935-01-01' + (g * 37 % 32000), ({DISTRICTS})[g % 8 + 1],
                   1 + g % 4, false, false, true, false, t, t
            FROM generate_series(1, {residents}) g,
                 LATERAL (SELECT timestamptz '2025-04-01 09:00+09'
                                 + (g % 600) * interval '1 day' AS t) x""",
        "campaign_runs": "INSERT INTO campaign_runs (id, campaign_id, program_id, slot_at, "
        "status, reminder, started_at, finished_at) VALUES "
        + ", ".join(
            f"({i + 1}, '{campaigns[i % len(campaigns)][0]}', '{campaigns[i % len(campaigns)][1]}',"
            f" timestamptz '2026-04-06 10:00+09' + {i * 2} * interval '1 day', 'done',"
            f" {'true' if i % 3 == 2 else 'false'}, timestamptz '2026-04-06 10:00+09' + "
            f"{i * 2} * interval '1 day', timestamptz '2026-04-06 10:20+09' + {i * 2} * "
            "interval '1 day')"
            for i in range(RUNS)
        ),
        "deliveries": f"""
            INSERT INTO deliveries (run_id, program_id, resident_id, status, reason,
                created_at, sent_at)
            SELECT r.id, r.program_id, ((g - 1) * 7 % {residents}) + 1,
                   CASE WHEN g % 100 = 0 THEN 'failed' WHEN g % 100 < 4 THEN 'skipped'
                        ELSE 'sent' END,
                   CASE WHEN g % 100 = 0 THEN 'Not found (the user blocked the account)'
                        WHEN g % 100 < 4 THEN 'notices paused' END,
                   r.slot_at,
                   CASE WHEN g % 100 >= 4 THEN r.slot_at + (g % 1200) * interval '1 second' END
            FROM generate_series(1, {per_run * RUNS}) g
            JOIN campaign_runs r ON r.id = (g - 1) / {per_run} + 1""",
        "clicks": """
            INSERT INTO clicks (run_id, campaign_id, program_id, link, clicked_at)
            SELECT r.id, r.campaign_id, r.program_id,
                   CASE WHEN g % 5 = 0 THEN 'apply' ELSE 'homepage' END,
                   r.slot_at + (g % 7200) * interval '1 minute'
            FROM generate_series(1, 200000) g JOIN campaign_runs r ON r.id = g % 100 + 1""",
        "program_responses": f"""
            INSERT INTO program_responses (resident_id, program_id, answer, answered_at)
            SELECT DISTINCT ON (d.resident_id, d.program_id) d.resident_id, d.program_id,
                   CASE WHEN d.id % 3 = 0 THEN 'not_needed' ELSE 'applied' END, d.sent_at
            FROM deliveries d WHERE d.id % 200 = 7 AND d.status = 'sent'
            AND d.resident_id <= {residents}""",
        "homepage_visits": """
            INSERT INTO homepage_visits (month, visitors, recorded_at, recorded_by)
            SELECT date '2026-04-01' + (m * interval '1 month'), 4200 + m * 97, now(), 'bench'
            FROM generate_series(0, 6) m""",
    }
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # A throwaway cluster's superuser: skip the foreign-key triggers while loading.
        conn.execute(text("SET session_replication_role = replica"))
        for name, sql in steps.items():
            start = time.perf_counter()
            conn.execute(text(sql))
            took[name] = round(time.perf_counter() - start, 1)
            print(f"  {name}: {took[name]} s", flush=True)
        conn.execute(text("SET session_replication_role = origin"))
        start = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        took["vacuum_analyze"] = round(time.perf_counter() - start, 1)
    return took


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    """Median and all timings in ms of `fn()` run `repeat` times after one warm-up."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(runs), 1), [round(r, 1) for r in runs]


def measure(engine: Engine, url: str, repeat: int, refresh_repeat: int) -> dict:
    """Refresh the snapshot as the scheduler does, then fetch each dashboard page as a
    logged-in admin (they read the snapshot); the floors in the same run."""
    from argon2 import profiles

    import bot.admin.staff as staff
    from bot.admin import snapshot
    from bot.app import create_app
    from bot.kpi import clear_cache
    from bot.settings import DEMO_ACCESS_TOKEN, DEMO_CHANNEL_SECRET, DEMO_SECRET_KEY, Settings
    from bot.wiring import wire

    staff.PARAMETERS = profiles.CHEAPEST
    settings = Settings(
        database_url=url,
        config_dir="config",
        channel_secret=DEMO_CHANNEL_SECRET,
        channel_access_token=DEMO_ACCESS_TOKEN,
        secret_key=DEMO_SECRET_KEY,
    )
    wiring = wire(settings, clock=FixedClock(NOW), engine=engine)
    staff.create_staff(wiring.session_factory, "bench", "bench-password-2026", NOW, "admin")
    client = create_app(wiring=wiring).test_client()
    form = client.get("/admin/login").get_data(as_text=True)
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    done = client.post(
        "/admin/login",
        data={"csrf_token": token, "name": "bench", "password": "bench-password-2026"},
    )
    assert done.status_code == 302, done.status_code

    def page(path: str):
        def get():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return get

    def bare_count():
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM deliveries")).scalar()

    results = {}
    # The scheduler's refresh: first with the delivery figures' cache empty (as after any
    # change of the deliveries), then warm.
    clear_cache()
    start = time.perf_counter()
    assert snapshot.tick(wiring) is not None  # no snapshot yet: due
    first = round((time.perf_counter() - start) * 1000, 1)
    print(f"  snapshot refresh, first (cold cache): {first} ms", flush=True)
    warm = []
    for _ in range(refresh_repeat):
        start = time.perf_counter()
        done = snapshot.refresh(wiring)
        warm.append(round((time.perf_counter() - start) * 1000, 1))
        print(f"    parts: {done.parts_ms}, {len(done.audiences)} slots counted", flush=True)
    results["snapshot refresh, first (delivery figures counted)"] = {
        "median_ms": first,
        "runs_ms": [first],
    }
    median = round(statistics.median(warm), 1)
    results["snapshot refresh, warm (delivery figures cached)"] = {
        "median_ms": median,
        "runs_ms": warm,
    }
    print(f"  snapshot refresh, warm: {median} ms {warm}", flush=True)
    results["stored took_ms of the last refresh"] = {
        "median_ms": snapshot.stored(wiring).took_ms,
        "runs_ms": [],
    }

    def poll():
        assert snapshot.tick(wiring) is None  # fresh: nothing to do

    for name, fn in [
        ("floor: SELECT count(*) FROM deliveries", bare_count),
        ("floor: bare page /admin/staff", page("/admin/staff")),
        ("scheduler poll, nothing due (snapshot.tick)", poll),
        ("/admin/ (KPI page)", page("/admin/")),
        ("/admin/charts/registrations.svg", page("/admin/charts/registrations.svg")),
        ("/admin/export/kpi.csv", page("/admin/export/kpi.csv")),
        ("/admin/campaigns", page("/admin/campaigns")),
        ("/admin/export/campaigns.csv", page("/admin/export/campaigns.csv")),
        ("/admin/plan", page("/admin/plan")),
    ]:
        median, runs = timed(fn, repeat)
        results[name] = {"median_ms": median, "runs_ms": runs}
        print(f"  {name}: {median} ms {runs}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--refresh-repeat", type=int, default=3)
    args = parser.parse_args()
    cluster = None
    url = args.db
    if url is None:
        from tests.pgcluster import PgCluster, find_bindir

        cluster = PgCluster(find_bindir())
        url = cluster.start()
    try:
        engine = make_engine(url, timeout=None, create=True)
        fresh_schema(engine)
        from bot.config import load_config

        print(
            f"generating {args.residents:,} residents, {args.deliveries:,} deliveries", flush=True
        )
        took = generate(engine, load_config("config"), args.residents, args.deliveries)
        load_before = os.getloadavg()
        results = measure(engine, url, args.repeat, args.refresh_repeat)
        floor = results["floor: SELECT count(*) FROM deliveries"]["median_ms"]
        page_floor = results["floor: bare page /admin/staff"]["median_ms"]
        for figures in results.values():
            figures["vs_count_floor"] = round(figures["median_ms"] / floor, 2)
            figures["vs_bare_page"] = round(figures["median_ms"] / page_floor, 2)
        summary = {
            "residents": args.residents,
            "deliveries": args.deliveries,
            "generate_s": took,
            "results": results,
            "load_average_before_measuring": load_before,
            "load_average": os.getloadavg(),
        }
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        engine.dispose()
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
