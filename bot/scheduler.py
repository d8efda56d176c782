"""The clock process (`todoku scheduler`): a BlockingScheduler whose jobs are module-level.

Today it runs the housekeeping that must happen without anyone asking: purging the
answers of residents who blocked the account longer ago than the retention time, and
picking up edited configuration files. Every job is idempotent, so a second scheduler
process started by mistake does no harm.
"""

from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import TOKYO
from bot.logs import get_logger
from bot.purge import purge_unfollowed

log = get_logger("todoku.scheduler")


def purge_job(wiring) -> int:
    """Purge residents past the unfollow retention time; returns how many."""
    with wiring.session_factory() as session, session.begin():
        count = purge_unfollowed(
            session, wiring.clock.now(), wiring.settings.unfollow_retention_days
        )
    log.info("purge_done", purged=count)
    return count


def reload_config_job(wiring) -> None:
    """Pick up edited configuration files (a broken edit keeps the last valid config)."""
    wiring.refresh_config()


def build_scheduler(wiring) -> BlockingScheduler:
    """A scheduler with the housekeeping jobs; misfires within an hour still run once."""
    scheduler = BlockingScheduler(timezone=TOKYO)
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    scheduler.add_job(purge_job, CronTrigger(hour=3, minute=30, timezone=TOKYO), args=[wiring],
                      id="purge", **common)  # fmt: skip
    scheduler.add_job(reload_config_job, IntervalTrigger(seconds=60), args=[wiring],
                      id="reload-config", **common)  # fmt: skip
    return scheduler


def run_scheduler(wiring) -> None:
    """Run housekeeping once now, then follow the clock until interrupted."""
    purge_job(wiring)
    scheduler = build_scheduler(wiring)
    log.info("scheduler_started", jobs=[job.id for job in scheduler.get_jobs()])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler_stopped")
