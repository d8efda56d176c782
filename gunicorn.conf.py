"""gunicorn settings for the web process (`gunicorn -c gunicorn.conf.py 'bot.app:create_app()'`)."""

import functools
import os
import traceback

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# 8 threads per worker. A request waits for LINE nowhere (replies, and a new friend's
# profile, are the reply threads'), but for its turn at the worker's writer: the requests
# waiting meanwhile go in one transaction (bot.registration.events), so more threads make
# fewer commits. Measured (docs/benchmarks.md, 2026-12-05 06:00–07:00 JST): 2 threads
# ~455 events/s, 8 ~540–585, 16 no better; 2, 3 or 4 workers the same on 2 cores. On
# SQLite the threads queue for the one writer at bot.store.writegate, not in SQLite's busy
# handler (which made 8 threads slower than 2 before the gate).
threads = 8
# Connections one worker holds at most (gunicorn's default is 1,000). A client that keeps
# a few dozen connections open (LINE, a proxy, a load generator) had them land unevenly:
# one worker took most of them and worked on one core while others idled (measured:
# 3,812 / 1,734 / 523 / 0 events per worker in one run). See SpreadingThreadWorker.
worker_connections = 2 * threads
# LINE gives up on a webhook after 2 seconds; a worker stuck much longer is broken.
timeout = 30
accesslog = "-"
# Never log query strings: click tokens and ids could appear there. Only these atoms
# (h m U s b L) are computed: see JsonLogger.atoms.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'


class JsonLogger(Logger):
    """gunicorn's own messages (master and workers, error and access log) as the app's JSON
    lines on stderr, so one log pipeline reads every line of the web process."""

    def setup(self, cfg):
        super().setup(cfg)
        from bot.logs import configure_logging

        configure_logging(os.environ.get("TODOKU_LOG_LEVEL") or "INFO")
        for log in (self.error_log, self.access_log):
            log.handlers[:] = []  # the root logger's JSON handler writes them
            log.propagate = True

    def access(self, resp, req, environ, request_time):
        """The access line, written as Todoku's own lines are (bot.logs: rendered once,
        without the standard library's record and formatter), in the same JSON."""
        if not self.access_log_enabled:
            return
        try:
            atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
            _access_log().info(self.cfg.access_log_format % atoms)
        except Exception:
            self.error(traceback.format_exc())

    def atoms(self, resp, req, environ, request_time):
        """The atoms access_log_format uses, and no others: gunicorn's own copies every
        request and response header and every environ variable into the dict (and formats
        a timestamp) for each request — 6 % of a webhook's CPU under load (py-spy). An atom
        not listed here prints as "-"."""
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "b": "-" if sent is None else str(sent),
            "L": f"{request_time.seconds}.{request_time.microseconds:06d}",
        }


logger_class = JsonLogger


@functools.cache
def _access_log():
    from bot.logs import get_logger

    return get_logger("gunicorn.access")


class SpreadingThreadWorker(ThreadWorker):
    """gunicorn's thread worker that spreads a client's connections over the workers and
    never leaves one waiting to be accepted.

    A worker holding `worker_connections` connections accepts no more (gunicorn's own
    rule). Here it also answers each request with "Connection: close" while it holds that
    many: the client connects again, and whichever worker has room accepts. Without it, a
    burst of more connections than the workers hold waited in the listen queue for as long
    as the held ones stayed open (measured: 256 connections, one waited 7.8 s).
    Below the cap, connections are kept alive as usual.
    """

    @property
    def max_keepalived(self) -> int:
        # gunicorn closes a connection after its answer when this many are kept alive
        # already: none while the worker is full.
        if self.nr_conns >= self.worker_connections:
            return 0
        return self._max_keepalived

    @max_keepalived.setter
    def max_keepalived(self, value: int) -> None:
        self._max_keepalived = value


worker_class = SpreadingThreadWorker


def when_ready(server):
    """Once per deployment start (in the master, not in every worker): set up the rich menu."""
    from bot.line.startup import prepare_line_platform
    from bot.settings import Settings
    from bot.wiring import wire

    prepare_line_platform(wire(Settings.from_env()))
