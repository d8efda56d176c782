"""The web process's HTTP front: uvicorn's event loop under gunicorn, Flask behind it.

gunicorn (gunicorn.conf.py) runs `TodokuWorker`s: each reads and writes HTTP in one event
loop (uvloop, httptools' C parser) instead of a thread per request parsing HTTP in Python.
gunicorn's thread worker cost ~0.3 ms of CPU per request around the app (reading, parsing,
handing the socket between its threads), a sixth of a webhook event's; a bare endpoint
served this way takes a quarter of the CPU (docs/benchmarks.md, "2026-12-05 (18:50–19:55
JST)").

The app stays a WSGI Flask app (`bot.app:create_app()`, as the Procfile names it). The
worker wraps it in `AsgiFront`:
- `POST /callback` is read, verified and parsed by the loop (`bot.registration.webhook.accept`)
  and written by the worker's one webhook-writer thread (`_WebhookWriter`), each round with
  every webhook accepted meanwhile (waiting for the database happens there, never in the loop);
- every other request goes to Flask through a2wsgi, on `threads` threads;
- each answer is logged as one access line (no query string: click tokens and ids could
  appear there);
- a worker holding more than `worker_connections` connections answers with "Connection:
  close", so a client that keeps many connections open (LINE, a proxy) spreads them over
  the workers instead of leaving one worker, on one core, with most of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
import sys
import threading
import time
from typing import Any, ClassVar

from a2wsgi import WSGIMiddleware
from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from bot.logs import get_logger
from bot.registration import events, webhook

log = get_logger("todoku.webhook")
access_log = get_logger("gunicorn.access")

CALLBACK = "/callback"
# How long a reply thread's new-friend language waits for a webhook's round to store it
# in before the writer stores it in a round of its own (_WebhookWriter._wait_for_work).
LANGUAGE_GRACE = 0.02
# Webhooks that, waiting, begin the next round at once (_WebhookWriter._gather).
ROUND_ENOUGH = 32


class AsgiFront:
    """ASGI in front of a WSGI app (see the module's docstring). `connections`: the
    server's open connections (uvicorn's), set by the worker; None: never closes one."""

    def __init__(self, app, *, threads: int, keep_alive_max: int) -> None:
        self.app = app
        self.keep_alive_max = keep_alive_max
        self.connections: set | None = None
        self.wsgi = WSGIMiddleware(app, workers=threads)
        # Only a Todoku app has a webhook; any other WSGI app (the benchmark's floor) is
        # served whole through a2wsgi.
        extensions = getattr(app, "extensions", {})
        self.webhooks = "todoku" in extensions
        self._writer = _WebhookWriter(app) if self.webhooks else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: none here; uvicorn refuses them
        started = time.monotonic()
        answer = _Answer(send, self._crowded())
        try:
            if self.webhooks and scope["path"] == CALLBACK and scope["method"] == "POST":
                await self._webhook(scope, receive, answer)
            else:
                await self.wsgi(scope, receive, answer)
        finally:
            _log_access(scope, answer, time.monotonic() - started)

    def _crowded(self) -> bool:
        return self.connections is not None and len(self.connections) > self.keep_alive_max

    async def _webhook(self, scope, receive, send) -> None:
        limit = self.app.extensions["todoku"].settings.max_webhook_bytes
        length = signature = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = webhook.declared_length(value)
            elif name == b"x-line-signature":
                signature = value.decode("latin-1")
        if length is not None and length > limit:
            body, whole = b"", False  # 413 at once (accept), the body left unread
        else:
            body, whole = await _read_body(receive, limit)
        if not whole:
            send.close = True  # a body left unread: the connection cannot serve another
        try:
            accepted = webhook.accept(self.app, length, signature, io.BytesIO(body))
            if isinstance(accepted, tuple):
                status, text = accepted
            elif not accepted:
                status, text = webhook.OK
            else:
                status, text = await self._writer.write(accepted)
        except Exception as exc:
            log.error("webhook_failed", error=type(exc).__name__, exc_info=True)
            status, text = 500, "internal error\n"
        payload = text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class _WebhookWriter:
    """The worker's webhook writer: one thread that writes, each round, every webhook the
    loop accepted while it wrote the last (bot.registration.webhook.write_many).

    Eight threads each running a webhook (the thread pool this replaced) spent ~0.4 ms of
    CPU per event handing work and the writer's front place to each other and switching
    the GIL between them (docs/benchmarks.md, "2026-12-05 (20:40–21:40 JST)"); here the
    loop hands a round over once and is woken once when it ends. Waiting for the database
    stays off the loop.

    A webhook not written within `timeout` (the database stuck, or the thread gone) fails
    (500, so LINE delivers it again); unless its round began, it is withdrawn and never
    written. A round that raises fails its webhooks, and the next round runs."""

    def __init__(self, app) -> None:
        self.app = app
        self.timeout: float | None = None  # the app's (webhook.write_timeout), on first use
        self._jobs: list[_Job] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events = None  # the app's EventWriter, once started
        self._reply_wait = 0.0  # its replies' reply_wait_seconds
        self._round_every = 0.0  # webhook_round_seconds
        self._round_started = 0.0  # time.monotonic() when the last round began
        # The thread waits out `_round_every` (`_gather`): a webhook does not wake it.
        self._gathering = False

    async def write(self, events: list) -> tuple[int, str]:
        """Write a webhook's accepted events; its status and text (raises what failed it),
        given once its replies are sent when `reply_wait_seconds` asks for that."""
        job = _Job(events, asyncio.get_running_loop().create_future())
        with self._ready:
            if self._thread is None or not self._thread.is_alive():
                self._start(asyncio.get_running_loop())
            self._jobs.append(job)
            if not self._gathering or len(self._jobs) >= ROUND_ENOUGH:
                self._ready.notify()
        try:
            sending = await asyncio.wait_for(asyncio.shield(job.future), self.timeout)
        except TimeoutError:
            with self._ready:
                job.abandoned = True
                if job in self._jobs:  # not begun: never written
                    self._jobs.remove(job)
            raise WriterTimeout(self.timeout) from None
        if sending and self._reply_wait > 0:  # tests: the answer after the replies
            await asyncio.wait(map(asyncio.wrap_future, sending), timeout=self._reply_wait)
        return webhook.OK

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        """With `_ready` held: start the thread; the reply threads' languages wake it."""
        self.timeout = webhook.write_timeout(self.app)
        self._loop = loop
        self._events = events.writer_for(self.app)
        settings = self._events.sender.settings
        self._reply_wait = settings.reply_wait_seconds
        self._round_every = settings.webhook_round_seconds
        self._events.wake_writer = self._wake
        self._thread = threading.Thread(target=self._run, name="webhook-writer", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        with self._ready:
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:  # then the writer's own lock (languages_waiting), never back
                self._wait_for_work()
                jobs, self._jobs = self._jobs, []
                self._round_started = time.monotonic()
            answers: list = [WriterStopped()] * len(jobs)
            try:
                answers = webhook.write_many(self.app, [job.events for job in jobs])
            except Exception as exc:  # the round failed: each of its webhooks fails
                log.error("webhook_round_failed", webhooks=len(jobs), error=type(exc).__name__)
                answers = [exc] * len(jobs)
            finally:  # also when the thread ends on a BaseException
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                    self._loop.call_soon_threadsafe(_settle, jobs, answers)

    def _wait_for_work(self) -> None:
        """With `_ready` held: wait for a webhook, or for a language that has waited
        LANGUAGE_GRACE with no webhook coming. Under load the next webhook's round stores
        the languages in its transaction; a round of their own for each (a third of the
        rounds at 1,000 events/s, docs/benchmarks.md) cost a transaction, a lock and a
        commit each. Alone, a new friend's welcome leaves LANGUAGE_GRACE later."""
        if self._jobs:  # they came while the last round was written: under load
            self._gather()
            if self._jobs:  # (unless every one of them gave up meanwhile)
                return
        since: float | None = None
        while not self._jobs:
            if not self._events.languages_waiting():
                since = None
                self._ready.wait()
                continue
            now = time.monotonic()
            since = now if since is None else since
            if now - since >= LANGUAGE_GRACE:
                return
            self._ready.wait(since + LANGUAGE_GRACE - now)

    def _gather(self) -> None:
        """With `_ready` held, webhooks waiting that came during the last round: let more
        come until `webhook_round_seconds` after that round began (or ROUND_ENOUGH wait),
        so a round's transaction, locks and commit are paid by more events: at 1,000
        events/s on 2 cores a round had 3 events and cost ~2 ms of CPU besides theirs,
        and with 20 ms the server's CPU per event fell by a sixth (docs/benchmarks.md).
        After a quiet spell the first webhook's round begins at once."""
        self._gathering = True
        try:
            while len(self._jobs) < ROUND_ENOUGH:
                remaining = self._round_started + self._round_every - time.monotonic()
                if remaining <= 0:
                    return
                self._ready.wait(remaining)
        finally:
            self._gathering = False


class _Job:
    """One webhook's events on their way through the writer thread."""

    __slots__ = ("abandoned", "events", "future")

    def __init__(self, events: list, future: asyncio.Future) -> None:
        self.events = events
        self.future = future
        self.abandoned = False  # its request gave up (`timeout`): nobody reads the answer


class WriterTimeout(Exception):
    """The worker's webhook writer did not write a webhook within its timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"webhook not written within {timeout:g} s")


class WriterStopped(Exception):
    """The worker's webhook writer thread ended in the middle of a round."""


def _settle(jobs: list[_Job], answers: list) -> None:
    """In the loop: hand each job's answer to its request."""
    for job, answer in zip(jobs, answers, strict=True):
        if job.abandoned or job.future.done():
            continue
        if isinstance(answer, Exception):
            job.future.set_exception(answer)
        else:
            job.future.set_result(answer)


class _Answer:
    """`send` that notes the status and the bytes sent, and asks for the connection to be
    closed after the answer when the worker is crowded."""

    def __init__(self, send, close: bool) -> None:
        self._send = send
        self.close = close
        self.status: int | None = None
        self.sent = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.close:
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        elif message["type"] == "http.response.body":
            self.sent += len(message.get("body", b""))
        await self._send(message)


async def _read_body(receive, most: int) -> tuple[bytes, bool]:
    """The request's body and True; or, past `most` bytes, its first `most` + 1 bytes (enough
    for `webhook.accept` to refuse it) and False, the rest left unread."""
    chunks: list[bytes] = []
    kept = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        kept += len(chunk)
        if kept > most:
            return b"".join(chunks)[: most + 1], False
        if not message.get("more_body"):
            return b"".join(chunks), True


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _log_access(scope, answer: _Answer, seconds: float) -> None:
    """One line per answer, as gunicorn's access line was: address, method and path (never
    the query string), status, bytes, seconds. INFO: TODOKU_LOG_LEVEL=WARNING drops it."""
    client = scope.get("client")
    status = "-" if answer.status is None else answer.status
    access_log.info(
        f'{client[0] if client else "-"} "{scope["method"]} {scope["path"]}" '
        f"{status} {answer.sent} {seconds:.6f}s"
    )


class TodokuWorker(UvicornWorker):
    """gunicorn's worker for the web process: uvicorn's loop, `AsgiFront` around the app.

    uvloop and httptools (the C parser); no access log of uvicorn's own (AsgiFront writes
    the line); the proxy's headers are left to the app (bot.app: ProxyFix, as configured),
    so they are read once; no "server" header."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "lifespan": "on",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's own lines (start-up, shutdown, errors) go to the root logger's JSON
        # handler like every other line (gunicorn.conf.py's JsonLogger empties gunicorn's).
        errors = logging.getLogger("uvicorn.error")
        errors.handlers, errors.propagate = [], True
        # Its access lines would carry the query string; AsgiFront writes them.
        access = logging.getLogger("uvicorn.access")
        access.handlers, access.propagate, access.disabled = [], False, True

    def load_wsgi(self) -> None:
        super().load_wsgi()
        if not _is_asgi(self.wsgi):
            threads = self.cfg.threads
            cap = self.cfg.worker_connections
            self.wsgi = AsgiFront(self.wsgi, threads=threads, keep_alive_max=cap)

    async def _serve(self) -> None:
        # uvicorn_worker's own, with the server's connections handed to the front.
        self.config.app = self.wsgi
        server = Server(config=self.config)
        if isinstance(self.wsgi, AsgiFront):
            self.wsgi.connections = server.server_state.connections
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


def _is_asgi(app) -> bool:
    call = app if inspect.isfunction(app) else getattr(app, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(call)
