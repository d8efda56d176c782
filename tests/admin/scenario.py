"""One fiscal year of activity in Murayama, with the figures the dashboard must show for it."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update

from bot.clock import TOKYO
from bot.store.models import Delivery


def at(text: str) -> datetime:
    """A Tokyo moment from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TOKYO)


def build(rows) -> None:
    """Residents, activity, runs, deliveries and clicks up to 2026-11-22 (令和8年度)."""
    for _ in range(12):
        rows.resident(district="楯岡", registered_at=at("2026-05-10 09:00"))
    for _ in range(3):
        rows.resident(district="西郷", registered_at=at("2026-11-01 09:00"))
    rows.resident(registered_at=at("2025-12-01 09:00"))  # district skipped, last fiscal year
    rows.resident(district="楯岡", registered_at=at("2026-06-01 09:00"), following=False)
    rows.resident(registered_at=None)  # follows, has not registered
    rows.resident(registered_at=None)
    # Both sides of the fiscal year's first midnight in Japan (15:00 UTC the day before).
    rows.activity("follow", at("2026-03-31 23:59"))
    rows.activity("follow", at("2026-04-01 00:00"))
    rows.activity("follow", at("2026-05-10 09:00"), times=4)
    rows.activity("unfollow", at("2026-07-03 12:00"), times=2)
    rows.activity("deleted", at("2026-08-15 12:00"))
    rows.activity("registered", at("2026-11-01 09:00"), times=3)
    first = rows.run(
        "kosodate-ouen-2026",
        "kosodate-ouen",
        at("2026-10-01 10:00"),
        sent=25,
        deferred=3,
        failed=0,
        skipped=12,
    )
    rows.run("kosodate-ouen-2026", "kosodate-ouen", at("2026-11-10 10:00"), sent=5)
    ninpu = rows.run("ninpu-shussan-2026", "ninpu-shussan", at("2026-10-01 10:00"), sent=40)
    rows.clicks(first, "homepage", at("2026-11-05 20:00"), times=30)
    rows.clicks(first, "apply", at("2026-11-06 08:00"), times=4)
    rows.clicks(ninpu, "homepage", at("2026-10-02 07:00"), times=12)


REGISTRATIONS = 16  # 12 + 3 + 1 following and registered; the blocked one does not count
FOLLOWERS = 18
# 5,500 - 16 = 5,484 to go in 129 days (2026-11-22 → 2027-03-31) = 4.24 months → 1,294/month.
PACE = "1,294 人"


def text_of(html: str, start: str, end: str) -> str:
    """The visible text between the first `start` and the next `end`, spaces collapsed."""
    fragment = html[html.index(start) :]
    fragment = fragment[: fragment.index(end)]
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def table_rows(html: str, start: str, end: str = "</tbody>") -> list[list[str]]:
    """The cells of each row between `start` and `end`."""
    fragment = html[html.index(start) :]
    fragment = fragment[: fragment.index(end)]
    rows = []
    for row in re.findall(r"<tr.*?</tr>", fragment, flags=re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return rows


def send_one_deferred(wiring) -> None:
    """A deferred notice of November goes out: the month's sends go from 5 to 6."""
    with wiring.session_factory() as s, s.begin():
        first = s.scalar(select(Delivery.id).where(Delivery.status == "deferred").limit(1))
        s.execute(
            update(Delivery)
            .where(Delivery.id == first)
            .values(status="sent", sent_at=at("2026-11-20 10:00"))
        )
