"""Fixtures for the staff dashboard: a staff login, a logged-in client, rows to count."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from bot.store.models import CampaignRun, Click, Delivery, Resident, ResidentActivity
from tests.conftest import DEFAULT_NOW

STAFF_NAME = "広報 村山"
STAFF_PASSWORD = "yuki-no-hi-2026-todoku"


def csrf_token(client, path: str = "/admin/login") -> str:
    """The CSRF token in a form on `path`, as a browser would read it."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client, name=STAFF_NAME, password=STAFF_PASSWORD, next_path=None, address=None):
    """Submit the login form like a browser; returns the response (not followed)."""
    data = {"csrf_token": csrf_token(client), "name": name, "password": password}
    if next_path is not None:
        data["next"] = next_path
    environ = {"REMOTE_ADDR": address} if address else {}
    return client.post("/admin/login", data=data, environ_base=environ)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Argon2id at its cheapest: the tests are about who gets in, not about hashing cost."""
    from argon2 import profiles

    monkeypatch.setattr("bot.admin.staff.PARAMETERS", profiles.CHEAPEST)


@pytest.fixture(autouse=True)
def fresh_kpi_cache():
    """Each test starts without figures cached by an earlier test's rows."""
    from bot.kpi import clear_cache

    clear_cache()


@pytest.fixture
def staff(wiring):
    """A staff login created through the service `todoku staff add` uses."""
    from bot.admin.staff import create_staff

    return create_staff(wiring.session_factory, STAFF_NAME, STAFF_PASSWORD, DEFAULT_NOW)


@pytest.fixture
def staff_client(client, staff):
    """A test client logged in as the staff member."""
    assert log_in(client).status_code == 302
    return client


class Rows:
    """Builds the rows the dashboard counts: residents, activity, runs, deliveries, clicks."""

    def __init__(self, session) -> None:
        self.session = session
        self._n = 0

    def resident(self, *, district=None, registered_at=DEFAULT_NOW, following=True) -> Resident:
        """A resident who consented and registered at `registered_at` (None: not yet)."""
        self._n += 1
        resident = Resident(
            line_user_id=f"U{self._n:032x}",
            following=following,
            followed_at=DEFAULT_NOW,
            consented_at=registered_at,
            registered_at=registered_at,
            district=district,
        )
        self.session.add(resident)
        return resident

    def activity(self, kind: str, at: datetime, times: int = 1) -> None:
        """`times` anonymous facts of `kind` at `at`."""
        self.session.add_all(ResidentActivity(kind=kind, occurred_at=at) for _ in range(times))

    def run(self, campaign: str, program: str, slot_at: datetime, **statuses: int) -> CampaignRun:
        """A finished campaign run with deliveries per status (sent ones sent at the slot)."""
        run = CampaignRun(
            campaign_id=campaign,
            program_id=program,
            slot_at=slot_at,
            status="done",
            started_at=slot_at,
            finished_at=slot_at,
        )
        self.session.add(run)
        self.session.flush()
        for status, count in statuses.items():
            # resident_id NULL, as after the residents deleted their data: the counts stay.
            self.session.add_all(
                Delivery(
                    run_id=run.id,
                    program_id=program,
                    resident_id=None,
                    status=status,
                    created_at=slot_at,
                    sent_at=slot_at if status == "sent" else None,
                )
                for _ in range(count)
            )
        return run

    def clicks(self, run: CampaignRun, link: str, at: datetime, times: int = 1) -> None:
        """`times` taps on the run's `link` ('homepage' or 'apply') at `at`."""
        fields = {"run_id": run.id, "campaign_id": run.campaign_id, "program_id": run.program_id}
        self.session.add_all(Click(**fields, link=link, clicked_at=at) for _ in range(times))


@pytest.fixture
def rows(wiring):
    """A Rows builder whose work is committed when the test's `with rows:` block ends."""

    class Committing:
        def __enter__(self) -> Rows:
            self._session = wiring.session_factory()
            self._session.begin()
            return Rows(self._session)

        def __exit__(self, *exc) -> None:
            if exc[0] is None:
                self._session.commit()
            self._session.close()

    return Committing()
