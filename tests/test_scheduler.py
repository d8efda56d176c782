"""The scheduler's housekeeping jobs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.dispatch.scheduler import build_scheduler, purge_job
from bot.store.models import Resident, ResidentChild


def test_purge_job_forgets_residents_blocked_past_retention(wiring):
    """A resident who blocked 31 days ago is purged; one who blocked 29 days ago is kept."""
    now = wiring.clock.now()
    with wiring.session_factory() as s, s.begin():
        old = Resident(
            line_user_id="U" + "a" * 32, following=False, unfollowed_at=now - timedelta(days=31)
        )
        old.children = [ResidentChild(birth_date=now.date() - timedelta(days=400))]
        recent = Resident(
            line_user_id="U" + "b" * 32, following=False, unfollowed_at=now - timedelta(days=29)
        )
        s.add_all([old, recent])
    assert purge_job(wiring) == 1
    with wiring.session_factory() as s:
        left = s.scalars(select(Resident.line_user_id)).all()
        children = s.scalar(select(func.count()).select_from(ResidentChild))
    assert left == ["U" + "b" * 32]
    assert children == 0


def test_scheduler_has_the_housekeeping_jobs(wiring):
    """The clock runs purge nightly and re-reads the configuration every minute."""
    scheduler = build_scheduler(wiring)
    assert {job.id for job in scheduler.get_jobs()} == {"purge", "reload-config"}
