"""Fixtures: a running linesim, a fake bot wired to it, SDK clients pointed at it."""

from __future__ import annotations

import pytest
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from linesim.client import SimClient
from linesim.server import start_in_thread
from tests.linesim.fakebot import FakeBot

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "test-channel-access-token"


class FakeClock:
    """A clock tests move by hand (epoch seconds)."""

    def __init__(self, now: float = 1_795_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture
def clock():
    """A hand-driven clock given to linesim."""
    return FakeClock()


@pytest.fixture
def running(clock):
    """linesim serving on a free port, with no webhook yet."""
    sim = start_in_thread(SECRET, TOKEN, clock=clock, redelivery_attempts=2)
    yield sim
    sim.stop()


@pytest.fixture
def sim(running):
    """The SimClient for the running linesim."""
    return SimClient(running.url)


@pytest.fixture
def bot(running, sim):
    """A fake bot whose webhook linesim posts to, replying through the SDK."""
    fake = FakeBot(running.url, SECRET, TOKEN)
    sim.set_webhook(fake.webhook_url)
    yield fake
    fake.stop()


def _config(url: str) -> Configuration:
    config = Configuration(host=url, access_token=TOKEN)
    config.retries = 0  # our tests decide about retries, not urllib3
    return config


@pytest.fixture
def api(running):
    """The SDK's MessagingApi pointed at linesim."""
    return MessagingApi(ApiClient(_config(running.url)))


@pytest.fixture
def blob(running):
    """The SDK's MessagingApiBlob (content uploads) pointed at the same linesim."""
    return MessagingApiBlob(ApiClient(_config(running.url)))


@pytest.fixture
def friend(sim):
    """A resident who follows the account (no webhook configured)."""
    user_id = sim.create_user("山田 花子")
    sim.follow(user_id)
    return user_id
