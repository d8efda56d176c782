"""Fixtures for the dispatcher: a small configuration, residents on both sides, linesim.

Residents exist twice, as on a real deployment: a linesim user who follows the account
(so LINE would deliver to them) and a Resident row with the answers the audience reads.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.clock import TOKYO
from bot.dispatch.send import SendPolicy
from bot.store.models import Resident, ResidentInterest
from tests.conftest import SAMPLE_CONFIG, make_settings

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)
# Retries in tests: the same logic, milliseconds instead of seconds.
FAST = SendPolicy(attempts=8, wait_first=0.001, wait_max=0.01, rate="1000/second")

PROGRAMS = """\
programs:
  - id: senior-smartphone
    name: シニア世代スマホスタート応援補助金
    summary: 65歳以上の方がはじめてスマートフォンを買うときの費用の一部を補助します。
    topic: 高齢者
    homepage: https://www.city.murayama.lg.jp/shisei/dx/senior-smartphone.html
    apply_url: https://logoform.jp/form/murayama/100108
    department: 政策推進課
    contact: 0237-55-2111（政策推進課）・市役所2階 政策推進課窓口
    period: {opens: 2026-04-01, closes: 2027-02-26}
    eligible:
      age: {min: 65}
  - id: jutaku-reform
    name: 住宅リフォーム補助金
    summary: 市内の業者で自宅のリフォームをするとき、工事費の一部を補助します。
    topic: 住まい
    homepage: https://www.city.murayama.lg.jp/kurashi/jutaku/reform.html
    department: 建設課
    period: {opens: 2026-05-01, closes: 2026-12-25}
"""

CAMPAIGNS = """\
campaigns:
  - id: senior-2026
    program: senior-smartphone
    send:
      - at: 2026-11-22 10:00
      - at: 2026-11-25 10:00
      - before_close: 30d
    lead: スマートフォンを買う費用の補助があります。
  - id: reform-2026
    program: jutaku-reform
    audience: {interest: [住まい]}
    send:
      - at: 2026-11-22 10:00
      - at: 2026-11-23 10:00
      - at: 2026-11-24 10:00
      - before_close: 7d
"""


def write_config(
    folder: Path,
    *,
    window: str = "08:00-20:00",
    max_per_week: int = 3,
    campaigns: str = CAMPAIGNS,
    programs: str = PROGRAMS,
) -> Path:
    """A configuration folder: the sample municipality with this window and cap."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SAMPLE_CONFIG / "municipality.yaml").read_text(encoding="utf-8")
    text = text.replace('window: "08:00-20:00"', f'window: "{window}"')
    text = text.replace("max_per_week: 3", f"max_per_week: {max_per_week}")
    (folder / "municipality.yaml").write_text(text, encoding="utf-8")
    (folder / "programs.yaml").write_text(programs, encoding="utf-8")
    (folder / "campaigns.yaml").write_text(textwrap.dedent(campaigns), encoding="utf-8")
    return folder


@pytest.fixture
def config_dir(tmp_path) -> Path:
    """The dispatcher tests' configuration (window 08:00-20:00, max 3 a week)."""
    return write_config(tmp_path / "config")


@pytest.fixture
def line(engine, clock, linesim_server, config_dir):
    """A wiring whose LINE_API_BASE is linesim: sends go through the real SDK over HTTP."""
    from bot.wiring import wire

    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        config_dir=config_dir,
        line_api_base=linesim_server.url,
        line_api_data_base=linesim_server.url,
        public_url="https://todoku.example.jp",
        line_timeout_seconds=2.0,
    )
    return wire(settings, clock=clock, engine=engine)


@pytest.fixture
def sim(linesim_server):
    """A linesim client (no bot webhook: residents here only receive)."""
    from linesim.client import SimClient

    return SimClient(linesim_server.url)


@dataclass
class People:
    """Makes residents: a following linesim user plus a Resident row with answers."""

    wiring: object
    state: object

    def add(
        self,
        *,
        age: int | None = 70,
        interests: tuple[str, ...] = (),
        following=True,
        paused=False,
        registered=True,
        on_line=True,
    ) -> tuple[int, str]:
        """One resident; returns (resident id, LINE user id)."""
        user = self.state.create_user("村山 太郎")
        if on_line:
            self.state.set_following(user, True)
        birth = None if age is None else dt.date(2026 - age, 1, 1)
        row = Resident(
            line_user_id=user.user_id,
            following=following,
            followed_at=NOW,
            consented_at=NOW if registered else None,
            registered_at=NOW if registered else None,
            birth_date=birth,
            notices_paused=paused,
            children_answered=True,
        )
        with self.wiring.session_factory() as session, session.begin():
            session.add(row)
            session.flush()
            session.add_all([ResidentInterest(resident_id=row.id, topic=t) for t in interests])
        return row.id, user.user_id

    def add_profile(
        self, guardian_id: int, label: str, *, age: int | None = 80, following=True, paused=False
    ) -> int:
        """A family profile (代理受信) of the account `guardian_id`; returns its id."""
        row = Resident(
            line_user_id=None,
            guardian_id=guardian_id,
            label=label,
            following=following,
            consented_at=NOW,
            registered_at=NOW,
            birth_date=None if age is None else dt.date(2026 - age, 1, 1),
            notices_paused=paused,
            children_answered=True,
        )
        with self.wiring.session_factory() as session, session.begin():
            session.add(row)
        return row.id

    def many(self, n: int, **kw) -> list[str]:
        """n alike residents; their LINE user ids."""
        return [self.add(**kw)[1] for _ in range(n)]

    def crowd(self, n: int, age: int = 70) -> list[str]:
        """n following, registered residents of `age`, written in one transaction."""
        users = [self.state.create_user(f"住民{i}") for i in range(n)]
        for user in users:
            self.state.set_following(user, True)
        with self.wiring.session_factory() as session, session.begin():
            session.add_all(
                [
                    Resident(
                        line_user_id=u.user_id,
                        following=True,
                        followed_at=NOW,
                        consented_at=NOW,
                        registered_at=NOW,
                        children_answered=True,
                        birth_date=dt.date(2026 - age, 1, 1),
                    )
                    for u in users
                ]
            )
        return [u.user_id for u in users]


@pytest.fixture
def people(line, linesim_server) -> People:
    """The resident factory bound to the test database and linesim."""
    return People(line, linesim_server.sim.state)


def notices(sim, user_id: str) -> list[dict]:
    """The Flex notices a resident received (not replies), oldest first."""
    return [m["message"] for m in sim.messages(user_id) if m["message"]["type"] == "flex"]


def multicasts(sim) -> list[dict]:
    """Every multicast request linesim received, in order."""
    return [r for r in sim.requests() if r["endpoint"] == "multicast"]
