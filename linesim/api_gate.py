"""What happens around every Messaging API request: ids, auth, retry keys, limits, faults, log.

`before_api_request` may answer on its own (401, 413, 429, injected 500/timeout);
`after_api_request` stamps `x-line-request-id`, applies a "lost response" fault and
records the request for `/_sim/requests`.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid

from flask import Response, current_app, g, jsonify, request

from linesim.actions import Problem
from linesim.sim import Simulator
from linesim.state import iso

MAX_BODY = 2 * 1024 * 1024  # LINE answers 413 above 2 MB
RETRY_KEY_ENDPOINTS = {"push", "multicast", "broadcast", "narrowcast"}
AUTH_MISSING = (
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
)
AUTH_INVALID = (
    "Authentication failed due to the following reason: invalid token. "
    "Confirm that the access token in the authorization header is valid."
)


def sim() -> Simulator:
    """The simulator behind the current app."""
    return current_app.extensions["linesim"]


def line_error(
    status: int, message: str, problems: list[Problem] | None = None, **extra
) -> tuple[Response, int]:
    """LINE's error body: {"message", "details"?: [{"message", "property"}], ...}."""
    body: dict = {"message": message}
    if problems:
        g.problems = [p.as_detail() for p in problems]
        body["details"] = g.problems
    body.update(extra)
    return jsonify(body), status


def refuse(problems: list[Problem]) -> tuple[Response, int]:
    """400 "The request body has N error(s)" with every problem listed."""
    return line_error(400, f"The request body has {len(problems)} error(s)", problems)


def json_body():
    """The parsed JSON body, or None when it is not JSON."""
    return request.get_json(silent=True, force=True)


def endpoint_name() -> str:
    """The view name, which is also the rate-limit bucket (per endpoint, as LINE does)."""
    return (request.endpoint or "unknown").rsplit(".", 1)[-1]


def drop_connection() -> bool:
    """Close the client's socket without an answer (werkzeug's server only)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return False
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    return True


def before_api_request():
    """Gatekeeping in LINE's order: size, auth, retry key, rate limit, then injected faults."""
    g.request_id, g.problems, g.fate, g.started = str(uuid.uuid4()), [], None, time.monotonic()
    g.retry_key = request.headers.get("X-Line-Retry-Key")
    if (request.content_length or 0) > MAX_BODY:
        return line_error(413, "Request Entity Too Large")
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return line_error(401, AUTH_MISSING)
    if auth[len("Bearer ") :] != sim().config.access_token:
        return line_error(401, AUTH_INVALID)
    if g.retry_key is not None:
        if endpoint_name() not in RETRY_KEY_ENDPOINTS:
            return line_error(400, "The retry key is not supported for this endpoint")
        try:
            uuid.UUID(g.retry_key)
        except ValueError:
            return line_error(400, "The retry key must be a UUID")
    if not sim().faults.allow(endpoint_name()):
        return line_error(429, "Too many requests")
    return _injected_fault()


def _injected_fault():
    g.fate = sim().faults.draw()
    if g.fate == "error":
        return line_error(500, "Internal server error (injected by linesim)")
    if g.fate == "timeout":
        # Longer than the client's read timeout; nothing was processed.
        time.sleep(sim().faults.config.timeout_seconds)
        g.fate = "timeout" if drop_connection() else "error"
        return line_error(500, "Internal server error (injected timeout)")
    return None


def after_api_request(response: Response) -> Response:
    """Stamp the request id, maybe lose the answer, and log the request."""
    fate = getattr(g, "fate", None)
    if fate == "lost" and response.status_code < 400:
        # The work is done (delivered, retry key remembered) but the client never hears.
        if sim().faults.config.lost_response_as == "drop" and drop_connection():
            g.fate = "lost:dropped"
        else:
            g.fate = "lost:500"
            response = jsonify({"message": "Internal server error (injected lost response)"})
            response.status_code = 500
    response.headers["x-line-request-id"] = g.request_id
    _log(response)
    return response


def _log(response: Response) -> None:
    body = None
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
    sim().state.log_request(
        {
            "request_id": g.request_id,
            "at": iso(sim().clock()),
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode(),
            "endpoint": endpoint_name(),
            "status": response.status_code,
            "problems": g.problems,
            "retry_key": g.retry_key,
            "fault": g.fate,
            "body": body,
            "ms": round((time.monotonic() - g.started) * 1000),
        }
    )
