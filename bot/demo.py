"""`todoku demo`: the bot on SQLite beside linesim, with sample residents already registered."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from werkzeug.serving import make_server

from bot.clock import TOKYO, RunningClock
from bot.registration.handlers import find_resident
from bot.store.engine import transaction
from bot.store.models import Resident, ResidentActivity, ResidentChild, ResidentInterest

DEMO_DB = Path("var") / "demo.db"
# The demo's dashboard login. The demo runs on this machine only, with fictional residents.
DEMO_STAFF = ("demo", "todoku-demo-2026")
# The demo's world starts at this moment and runs at real speed from there (RunningClock),
# whatever the machine's date and hour: a weekday morning inside 令和8年度, inside the
# delivery window, when several sample programs are open. So the demo looks the same on
# any day and its first notices go out at start, even at night or after 31 March 2027.
# The scheduler reads this clock for what is due (its start-up catch-up and 15-minute
# tick); APScheduler's own timers follow the machine's clock, so its per-slot jobs are
# silenced as "missed" and the tick runs those slots instead.
DEMO_START = datetime(2026, 11, 24, 10, 30, tzinfo=TOKYO)


@dataclass(frozen=True)
class SampleResident:
    """A fictional resident for the demo and staff training."""

    name: str
    birth_date: date | None
    district: str | None
    household_size: int | None
    children: tuple[date, ...] = ()
    pregnant: bool | None = False
    single_parent: bool | None = False
    interests: tuple[str, ...] = ()


SAMPLE_RESIDENTS = (
    SampleResident(
        "村山 ハナ（78歳・一人暮らし）",
        date(1948, 5, 3),
        "楯岡",
        1,
        interests=("高齢者", "健康・福祉"),
    ),
    SampleResident("西郷 健一（66歳）", date(1960, 4, 2), "西郷", 2, interests=("高齢者",)),
    SampleResident(
        "大久保 さくら（子育て中）",
        date(1991, 8, 20),
        "大久保",
        4,
        children=(date(2020, 6, 1), date(2024, 1, 15)),
        interests=("子育て",),
    ),
    SampleResident(
        "冨本 みどり（妊娠中）",
        date(1996, 2, 29),
        "冨本",
        2,
        pregnant=True,
        interests=("子育て", "健康・福祉"),
    ),
    SampleResident(
        "戸沢 ゆう（ひとり親）",
        date(1988, 11, 30),
        "戸沢",
        2,
        children=(date(2019, 9, 9),),
        single_parent=True,
        interests=("子育て", "住まい"),
    ),
    SampleResident(
        "袖崎 たろう（答えない項目あり）", None, "袖崎", None, pregnant=None, single_parent=None
    ),
)


@dataclass(frozen=True)
class RunningDemo:
    """A started demo: where its pages are (bot/cli.py prints them) and how to stop it."""

    chat_url: str
    bot_url: str
    login: tuple[str, str]
    clock_start: datetime
    stop: Callable[[], None]


def start_demo(port: int = 8000, sim_port: int = 8100) -> RunningDemo:
    """Start linesim, the bot and the scheduler in threads and register the sample residents."""
    from bot.admin.snapshot import scheduler_jobs
    from bot.admin.staff import create_staff
    from bot.app import create_app
    from bot.dispatch.scheduler import run_scheduler
    from bot.line.startup import prepare_line_platform
    from bot.logs import configure_logging
    from bot.registration.language import scheduler_job
    from bot.settings import Settings
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade
    from bot.wiring import wire
    from linesim.client import SimClient
    from linesim.server import start_in_thread

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{DEMO_DB}")
    env["LINE_API_BASE"] = env["LINE_API_DATA_BASE"] = f"http://127.0.0.1:{sim_port}"
    bot_url = f"http://127.0.0.1:{port}"
    env["TODOKU_PUBLIC_URL"] = bot_url  # links in notices lead to this demo, on its port
    if env["DATABASE_URL"] == f"sqlite:///{DEMO_DB}":
        DEMO_DB.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)  # a fresh demo every time
    settings = Settings.from_env(env, demo=True)
    configure_logging("WARNING")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log in the terminal
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # see DEMO_START
    engine = make_engine(settings.database_url, create=True)  # the demo makes its database
    wiring = wire(settings, clock=RunningClock(DEMO_START), engine=engine)
    upgrade(wiring.engine)
    sim = start_in_thread(
        settings.channel_secret.get_secret_value(),
        settings.channel_access_token.get_secret_value(),
        f"{bot_url}/callback",
        port=sim_port,
    )
    server = make_server("127.0.0.1", port, create_app(wiring=wiring), threaded=True)
    threading.Thread(target=server.serve_forever, name="bot", daemon=True).start()
    prepare_line_platform(wiring)
    register_samples(wiring, SimClient(sim.url))
    create_staff(wiring.session_factory, *DEMO_STAFF, wiring.clock.now(), role="admin")
    # The clock process too, as in production: open programs' latest slots are caught up
    # at start, so the sample residents receive real notices in the chat page.
    threading.Thread(
        target=run_scheduler,
        args=(wiring,),
        kwargs={"periodic": [*scheduler_jobs(wiring), scheduler_job()]},
        name="scheduler",
        daemon=True,
    ).start()

    def stop() -> None:
        server.shutdown()
        sim.stop()

    return RunningDemo(sim.url, bot_url, DEMO_STAFF, DEMO_START, stop)


def register_samples(wiring, sim) -> list[str]:
    """Create the sample residents in linesim, let them follow, and store their answers."""
    user_ids = []
    for sample in SAMPLE_RESIDENTS:
        user_id = sim.create_user(sample.name)
        sim.follow(user_id)  # the bot creates the resident through its real webhook
        with transaction(wiring.session_factory) as session:
            resident = find_resident(session, user_id)
            _apply(session, resident, sample, wiring.clock.now())
        user_ids.append(user_id)
    return user_ids


def _apply(session, resident: Resident, sample: SampleResident, now) -> None:
    resident.dialog = None
    resident.consented_at = resident.registered_at = now
    resident.birth_date = sample.birth_date
    resident.district = sample.district
    resident.household_size = sample.household_size
    resident.pregnant = sample.pregnant
    resident.single_parent = sample.single_parent
    resident.children_answered = True
    resident.children = [ResidentChild(birth_date=d) for d in sample.children]
    resident.interests = [ResidentInterest(topic=t) for t in sample.interests]
    session.add_all(
        [
            ResidentActivity(kind="consent", occurred_at=now),
            ResidentActivity(kind="registered", occurred_at=now),
        ]
    )
