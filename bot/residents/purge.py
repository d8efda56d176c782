"""Forget residents who blocked the account longer ago than the retention time.

A resident who unfollows keeps their answers for `Settings.unfollow_retention_days`
(default 30), so following again restores them; after that the row and everything
attached to it (children, interests, program answers) is deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.store import queries
from bot.store.engine import transaction
from bot.store.models import ResidentActivity


def purge_unfollowed(session: Session, now: datetime, retention_days: int) -> int:
    """Delete residents unfollowed before now - retention_days; returns how many."""
    result = session.execute(queries.purge_unfollowed_before(now - timedelta(days=retention_days)))
    count = result.rowcount or 0
    session.add_all(ResidentActivity(kind="purged", occurred_at=now) for _ in range(count))
    return count


def purge(factory: sessionmaker[Session], now: datetime, retention_days: int) -> int:
    """purge_unfollowed in a transaction of its own (the nightly job, `residents purge`)."""
    with transaction(factory) as session:
        return purge_unfollowed(session, now, retention_days)
