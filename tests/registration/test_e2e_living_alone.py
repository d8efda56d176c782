"""A resident of 78 living alone registers in at most 6 taps or typed messages after the
follow, on the sample configuration and on a second municipality's (Kahoku), through
linesim, on SQLite and PostgreSQL. Questions that cannot apply are not asked, the progress
counter stays honest, and the typed birth date is read back in 和暦 with 西暦."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import SAMPLE_CONFIG, LiveBot, make_settings
from tests.registration.chat import Chat, resident_row, texts

KAHOKU = Path(__file__).resolve().parent.parent / "config" / "fixtures" / "kahoku"
PROGRESS = re.compile(r"^（(\d+)(?:/(\d+)|問目・のこり(\d+)問まで)）")


@pytest.fixture
def bot_on(engine, clock, linesim_server):
    """Start the live bot on a given configuration folder (one per test)."""
    from bot.app import create_app
    from bot.wiring import wire

    started = []

    def start(config_dir: Path) -> LiveBot:
        settings = make_settings(
            engine.url.render_as_string(hide_password=False),
            config_dir=config_dir,
            line_api_base=linesim_server.url,
            line_api_data_base=linesim_server.url,
        )
        wiring = wire(settings, clock=clock, engine=engine)
        server = make_server("127.0.0.1", 0, create_app(wiring=wiring), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return LiveBot(f"http://127.0.0.1:{server.server_port}", wiring, None)

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Counted(Chat):
    """A chat that counts typed messages as well as taps, and records every progress hint."""

    def __init__(self, sim) -> None:
        super().__init__(sim, name="村山 トメ")
        self.progress: list[tuple[int, int, bool]] = []

    def new(self) -> list[dict]:
        fresh = super().new()
        for message in fresh:
            found = PROGRESS.match(message.get("text", ""))
            if found:
                n, total, left = found.groups()
                exact = total is not None
                self.progress.append((int(n), int(total) if exact else int(n) + int(left), exact))
        return fresh

    def say(self, text: str) -> list[dict]:
        self.taps += 1
        return super().say(text)


def assert_honest(progress: list[tuple[int, int, bool]]) -> None:
    """n goes up by one per question; the total (or its upper bound) never grows; once a
    total is given as exact it stays. (A question asked again keeps its number.)"""
    progress = [p for i, p in enumerate(progress) if i == 0 or p != progress[i - 1]]
    numbers = [n for n, _, _ in progress]
    assert numbers == list(range(1, len(numbers) + 1))
    totals = [t for _, t, _ in progress]
    assert all(a >= b for a, b in itertools.pairwise(totals))
    exact = [t for _, t, e in progress if e]
    assert len(set(exact)) <= 1 and (not exact or exact[0] == numbers[-1])


def test_78_living_alone_registers_in_six_on_the_sample(sim, bot_on):
    bot = bot_on(SAMPLE_CONFIG)
    sim.set_webhook(f"{bot.url}/callback")
    chat = Counted(sim)
    chat.follow()
    chat.tap("同意して登録する")
    shown = texts(chat.say("昭和23年5月3日"))
    assert "昭和23年5月3日（1948年）で登録しました" in shown
    chat.tap("楯岡")
    question = chat.tap("1人")[-1]["text"]
    # Living alone: no children, no ひとり親; 78 and alone: not asked about pregnancy.
    assert "分野" in question and "妊娠" not in question
    chat.tap("高齢者")
    assert "登録ができました" in texts(chat.tap("完了"))
    assert chat.taps <= 6, chat.taps
    assert_honest(chat.progress)
    assert chat.progress[-1][2]  # the last question is numbered exactly
    row = resident_row(bot, chat.user_id)
    assert row.birth_date == dt.date(1948, 5, 3) and row.household_size == 1
    assert row.children_answered is True and row.children == []
    assert row.pregnant is None and row.single_parent is None
    assert row.registered_at is not None
    sim.assert_no_problems()


def test_80_year_old_couple_is_not_asked_about_pregnancy(sim, bot_on):
    bot = bot_on(SAMPLE_CONFIG)
    sim.set_webhook(f"{bot.url}/callback")
    chat = Counted(sim)
    chat.follow()
    chat.tap("同意して登録する")
    chat.say("S21.5.3")
    chat.tap("大倉")
    chat.tap("2人")
    asked = texts(chat.tap("いない"))
    assert "妊娠" not in asked and "ひとり親" not in asked and "分野" in asked
    chat.tap("答えない")
    assert resident_row(bot, chat.user_id).registered_at is not None
    assert_honest(chat.progress)
    sim.assert_no_problems()


def test_78_living_alone_registers_in_six_on_kahoku(sim, bot_on):
    bot = bot_on(KAHOKU)
    sim.set_webhook(f"{bot.url}/callback")
    chat = Counted(sim)
    shown = texts(chat.follow())
    assert "河北町" in shown
    chat.tap("同意して登録する")
    assert "（1948年）で登録しました" in texts(chat.say("1948/5/3"))
    chat.tap("溝延")
    chat.tap("いない")
    chat.tap("福祉")
    assert "登録ができました" in texts(chat.tap("完了"))
    assert chat.taps <= 6, chat.taps
    assert_honest(chat.progress)
    row = resident_row(bot, chat.user_id)
    assert row.birth_date == dt.date(1948, 5, 3) and row.district == "溝延"
    assert [i.topic for i in row.interests] == ["福祉"]
    sim.assert_no_problems()
