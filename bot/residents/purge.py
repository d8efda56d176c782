"""Forget residents who blocked the account longer ago than the retention time, and
webhook claims older than LINE's redeliveries.

A resident who unfollows keeps their answers for `Settings.unfollow_retention_days`
(default 30), so following again restores them; after that the row and everything
attached to it (children, interests, program answers) is deleted.

A webhook event's claim (its id in `webhook_events`, bot.registration.events) is what makes
a redelivered event be handled once. It is kept CLAIM_RETENTION_DAYS, far longer than LINE
redelivers an event (its reply token dies after 20 minutes), then forgotten: without it a
city's busiest months would leave millions of rows behind for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.store import queries
from bot.store.engine import transaction
from bot.store.models import ResidentActivity

# Residents one purge transaction deletes at most: PostgreSQL holds a lock per resident
# until it commits (its lock table has room for max_locks_per_transaction per connection).
CHUNK = 500
# Days a webhook claim is kept, and claims one transaction forgets at most: on SQLite the
# web process's writers wait for it (10,000 took ~120 ms on a 2-core VM; 2,000 ~25 ms).
CLAIM_RETENTION_DAYS = 30
CLAIM_CHUNK = 2_000


def purge_unfollowed(
    session: Session, now: datetime, retention_days: int, limit: int | None = None
) -> int:
    """Delete residents unfollowed before now - retention_days (at most `limit`); returns
    how many.

    On PostgreSQL the residents are locked first, as every webhook transaction locks its
    residents before touching a row (queries.lock_residents): a webhook batch that holds a
    candidate's row (their unblock) and then deletes another resident (削除する: the
    deletion trigger's lock) would otherwise deadlock with the purge, whose own deletion
    trigger takes that lock before the candidates' rows. Now the purge waits for the batch
    instead, and then finds the unblocked resident following: not deleted.
    """
    return _purge(session, now, retention_days, limit)[1]


def _purge(
    session: Session, now: datetime, retention_days: int, limit: int | None
) -> tuple[int, int]:
    """(candidates found, residents deleted)."""
    cutoff = now - timedelta(days=retention_days)
    users = list(session.scalars(queries.purge_candidates(cutoff, limit)))
    if not users:
        return 0, 0
    queries.lock_residents(session, users)
    result = session.execute(queries.purge_unfollowed_before(cutoff, users))
    count = result.rowcount or 0
    session.add_all(ResidentActivity(kind="purged", occurred_at=now) for _ in range(count))
    return len(users), count


def purge(factory: sessionmaker[Session], now: datetime, retention_days: int) -> int:
    """purge_unfollowed, CHUNK residents to a transaction (the nightly job, `residents
    purge`); returns how many in all."""
    total = 0
    while True:
        with transaction(factory) as session:
            found, count = _purge(session, now, retention_days, CHUNK)
        total += count
        # A chunk whose residents all followed again meanwhile deletes none: stop there
        # rather than select them again; the next night goes on.
        if found < CHUNK or count == 0:
            return total


def forget_webhook_claims(factory: sessionmaker[Session]) -> int:
    """Forget the webhook claims received over CLAIM_RETENTION_DAYS ago, CLAIM_CHUNK to a
    transaction; returns how many. Counted in real time, as they were stamped: LINE's
    redeliveries follow its clock, not the one the dispatcher may be given."""
    before = datetime.now(UTC) - timedelta(days=CLAIM_RETENTION_DAYS)
    total = 0
    while True:
        with transaction(factory) as session:
            forgotten = session.execute(queries.forget_webhook_claims(before, CLAIM_CHUNK))
        total += forgotten.rowcount
        if forgotten.rowcount < CLAIM_CHUNK:
            return total
