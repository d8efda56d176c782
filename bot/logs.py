"""Structured logs (JSON lines on stderr). Never log message bodies or personal data."""

from __future__ import annotations

import logging
import re
import sys
import traceback

import structlog


def configure_logging(level: str = "INFO") -> None:
    """Route stdlib and structlog records through one JSON renderer on stderr.

    Todoku's own lines (`get_logger`) are rendered by structlog and written as they are to
    the JSON handler on the root logger (`JsonLines.write_line`): the standard library's
    record, handler chain and formatter cost twice the rendering itself, and a line per
    event and per request was ~10 % of a webhook's CPU under load (docs/benchmarks.md).
    Other libraries' records (gunicorn, Flask, Alembic...) go through `logging` and come
    out as the same JSON. Either way the root logger's level decides, as before.
    """
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = JsonLines(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_last()],
            foreign_pre_chain=shared,
        )
    )
    # No line names a thread, a process or a source line (the JSON carries the event's own
    # fields): skip gathering them for every record, as the logging HOWTO's "Optimization"
    # section describes; a quarter of a line's CPU (a line per event and request).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The SDK logs request bodies at DEBUG; keep it quiet whatever our level is.
    logging.getLogger("linebot").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # Alembic announces its plugins at INFO each time migrations are read (e.g. the head).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A structured logger; pass ids and counts as key-values, never message text."""
    return structlog.get_logger(name)


class JsonLines(logging.StreamHandler):
    """The root logger's handler: other libraries' records formatted as JSON lines, and
    Todoku's own lines, already JSON, written as they are."""

    def write_line(self, line: str) -> None:
        """Write one rendered line (and flush), under the handler's lock like a record."""
        self.acquire()
        try:
            self.stream.write(line + self.terminator)
            self.flush()
        except Exception:  # a closed stream: as logging does without raiseExceptions
            pass
        finally:
            self.release()


class _Lines:
    """structlog's output for one named logger: the rendered line goes to the JSON
    handlers on the root logger at the time (tests redirect or replace them)."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    def _write(self, line: str) -> None:
        handlers = [h for h in logging.root.handlers if isinstance(h, JsonLines)]
        for handler in handlers:
            handler.write_line(line)
        if not handlers:  # logging not configured: as the standard library's last resort
            sys.stderr.write(line + "\n")

    debug = info = warning = error = critical = msg = _write


def _add_logger_name(logger: _Lines, _method: str, event_dict: dict) -> dict:
    event_dict["logger"] = logger.name
    return event_dict


def _enabled(level: int) -> bool:
    """As `logging.root.isEnabledFor(level)`, without its cache (the level may change)."""
    root = logging.root
    return root.manager.disable < level and root.level <= level


def _at(level: int):
    """A `_Logger` method logging at `level` (its structlog name: the level's)."""
    name = logging.getLevelName(level).lower()

    def log(self, event: str, **kw) -> None:
        if _enabled(level):
            self._proxy_to_logger(name, event, **kw)

    log.__name__ = name
    return log


class _Logger(structlog.BoundLoggerBase):
    """A bound logger that drops a line below the root logger's level before any processor
    runs (the level is read at each call: configure_logging may set another)."""

    debug = _at(logging.DEBUG)
    info = _at(logging.INFO)
    warning = _at(logging.WARNING)
    error = _at(logging.ERROR)
    critical = _at(logging.CRITICAL)

    def exception(self, event: str, **kw) -> None:
        """`error` with the exception being handled."""
        kw.setdefault("exc_info", True)
        self.error(event, **kw)


def hide_database_details(_logger, _name: str, event_dict: dict) -> dict:
    """Log a database error by class and constraint name only, never by its text.

    A driver's message can quote the row it refused (PostgreSQL's ``Key
    (line_user_id)=(U…)``, a date, an answer); the traceback's frames stay, the texts of
    every exception in the chain go.
    """
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()
    error = exc_info if isinstance(exc_info, BaseException) else None
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        error = exc_info[1]
    if error is None or not any(is_database_error(e) for e in _chain(error)):
        return event_dict
    event_dict.pop("exc_info", None)
    event_dict["error"] = database_error_summary(error)
    event_dict["exception"] = "".join(
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(e.__traceback__))
        + database_error_summary(e)
        + "\n"
        for e in reversed(_chain(error))
    )
    return event_dict


def is_database_error(error: BaseException) -> bool:
    """An error of SQLAlchemy or of a database driver (its text may quote resident data)."""
    from sqlalchemy.exc import SQLAlchemyError

    module = type(error).__module__.split(".")[0]
    return isinstance(error, SQLAlchemyError) or module in ("sqlite3", "psycopg", "psycopg2")


def database_error_summary(error: BaseException) -> str:
    """``Class`` or ``Class (constraint NAME)``: what may be said about a database error."""
    name = type(error).__name__
    if not is_database_error(error):
        return name
    constraint = constraint_name(error)
    return f"{name} (constraint {constraint})" if constraint else name


_SQLITE_CONSTRAINT = re.compile(r"constraint failed: ([\w.]+(?:, [\w.]+)*)")


def constraint_name(error: BaseException) -> str | None:
    """The constraint a database refused a row by (PostgreSQL's name; SQLite's columns)."""
    orig = getattr(error, "orig", None) or error
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return diag.constraint_name
    if type(orig).__module__ == "sqlite3":
        found = _SQLITE_CONSTRAINT.search(str(orig))
        return found.group(1) if found else None
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes/contexts, newest first (as a traceback prints them)."""
    chain: list[BaseException] = []
    while error is not None and error not in chain and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return chain


def _last() -> list:
    """The processors that finish every line, Todoku's own and other libraries'."""
    return [
        hide_database_details,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(ensure_ascii=False),
    ]


# Todoku's own lines, from the first import on: before configure_logging (the root
# logger at WARNING, no handler) a warning or an error still reaches stderr, and nothing
# below is printed — not structlog's default, which prints every level to stdout.
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        *_last(),
    ],
    wrapper_class=_Logger,
    logger_factory=_Lines,
    cache_logger_on_first_use=True,
)
