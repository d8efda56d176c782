"""Serving linesim: in the foreground (`todoku linesim`) or in a thread (tests, demo)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from linesim.app import create_app


def serve(
    host: str, port: int, webhook_url: str | None, channel_secret: str, access_token: str, **options
) -> None:
    """Serve linesim until interrupted; `options` go to `create_app`."""
    app = create_app(channel_secret, access_token, webhook_url, **options)
    server = _server(app, host, port)
    print(
        f"linesim: http://{host}:{server.server_port}/ (webhook → {webhook_url or 'none'})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class QuietHandler(WSGIRequestHandler):
    """Request handler that keeps test output clean (`/_sim/requests` has the log)."""

    def log_request(self, code="-", size="-") -> None:
        """Do not print one line per request."""


def _server(app: Flask, host: str, port: int, quiet: bool = False) -> BaseWSGIServer:
    # Threaded: the bot calls the reply endpoint while linesim is still waiting for
    # the bot's answer to the webhook it posted.
    handler = QuietHandler if quiet else WSGIRequestHandler
    return make_server(host, port, app, threaded=True, request_handler=handler)


@dataclass
class RunningSim:
    """A linesim serving in a background thread."""

    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        return f"http://{self.server.host}:{self.server.server_port}"

    @property
    def sim(self):
        """The Simulator behind the app (state, faults, webhook sender)."""
        return self.app.extensions["linesim"]

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_in_thread(
    channel_secret: str,
    access_token: str,
    webhook_url: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    **options,
) -> RunningSim:
    """Start linesim on a free port (port 0) in a daemon thread; returns it running."""
    app = create_app(channel_secret, access_token, webhook_url, **options)
    server = _server(app, host, port, quiet)
    # A short poll interval makes stop() quick (tests start and stop many sims).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="linesim", daemon=True
    )
    thread.start()
    return RunningSim(app, server, thread)
