"""gunicorn settings for the web process (`gunicorn -c gunicorn.conf.py 'bot.app:create_app()'`)."""

import os

from gunicorn.glogging import Logger

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"


# Workers started by default at most, however many cores: each holds database connections
# of its own (docs/operations.md: PostgreSQL's max_connections); WEB_CONCURRENCY may say more.
MOST_WORKERS = 8


def default_workers() -> int:
    """One worker per core this process may run on, and one more, at most MOST_WORKERS: a
    worker's event loop, webhook writer and reply threads share one interpreter lock, so a
    worker uses about a core, and the one more fills a core while another worker waits for
    the database. On 2 cores, 3 workers against the 4 shipped before: on SQLite +14 %
    events/s and a p99 of 42–49 ms against 118–166 ms, on PostgreSQL the same
    (docs/benchmarks.md, 2026-12-06)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(cores + 1, MOST_WORKERS)


workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers())
# Each worker reads and answers HTTP in one event loop (uvicorn's, bot.web.front.TodokuWorker).
# Its webhooks are written by one thread per worker, each round with every webhook that came
# in meanwhile (one transaction for them all, bot.registration.events): a pool of 8 threads
# each writing its own webhook spent ~0.4 ms of CPU per event handing the writer's place to
# each other (docs/benchmarks.md, "2026-12-05 (20:40–21:40 JST)"). A request waits for LINE
# nowhere (replies, and a new friend's profile, are the reply threads'). On SQLite the
# workers' writers queue for the one writer at bot.store.writegate.
worker_class = "bot.web.front.TodokuWorker"
# Flask's pages (the dashboard, the forms, the redirects) run on this many threads per worker.
threads = 8
# A worker holding more than this many connections closes each after its answer, so a
# client that keeps a few dozen open (LINE, a proxy) spreads them over the workers (one
# worker took most of them and worked on one core while others idled: 3,812 / 1,734 /
# 523 / 0 events per worker in one run). Its event loop still accepts every connection.
worker_connections = 2 * threads
# LINE gives up on a webhook after 2 seconds; a worker stuck much longer is broken.
timeout = 30
# The access lines are bot.web's (one JSON line per answer, never a query string).
accesslog = None


class JsonLogger(Logger):
    """gunicorn's own messages (master and workers) as the app's JSON lines on stderr, so
    one log pipeline reads every line of the web process."""

    def setup(self, cfg):
        super().setup(cfg)
        from bot.logs import configure_logging

        configure_logging(os.environ.get("TODOKU_LOG_LEVEL") or "INFO")
        for log in (self.error_log, self.access_log):
            log.handlers[:] = []  # the root logger's JSON handler writes them
            log.propagate = True


logger_class = JsonLogger


def when_ready(server):
    """Once per deployment start (in the master, not in every worker): set up the rich menu."""
    from bot.line.startup import prepare_line_platform
    from bot.settings import Settings
    from bot.wiring import wire

    prepare_line_platform(wire(Settings.from_env()))
