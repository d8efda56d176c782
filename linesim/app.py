"""linesim's app factory: a local LINE platform (Messaging API + residents + chat page)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, g, jsonify, request

from linesim import api_gate, api_messages, api_users, sim_routes
from linesim.sim import SimConfig, Simulator


def create_app(
    channel_secret: str,
    access_token: str,
    webhook_url: str | None,
    *,
    clock: Callable[[], float] | None = None,
    redelivery_attempts: int = 2,
    redelivery_delay: float = 0.0,
    webhook_timeout: float = 2.0,
    reply_token_ttl: float = 60.0,
) -> Flask:
    """Build a linesim app for one channel; `clock` returns epoch seconds (default wall time)."""
    if not channel_secret or not access_token:
        raise ValueError("linesim needs a channel secret and an access token")
    app = Flask(__name__)
    config = SimConfig(
        channel_secret,
        access_token,
        reply_token_ttl=reply_token_ttl,
        redelivery_attempts=redelivery_attempts,
        redelivery_delay=redelivery_delay,
        webhook_timeout=webhook_timeout,
    )
    app.extensions["linesim"] = Simulator(config, webhook_url, clock or time.time)
    app.json.ensure_ascii = False  # Japanese stays readable in /_sim answers
    app.json.sort_keys = False
    for blueprint in (api_messages.bp, api_users.bp):
        blueprint_hooks(app, blueprint.name)
        app.register_blueprint(blueprint)
    app.register_blueprint(sim_routes.bp)
    app.before_request(_unknown_api_gate)
    app.after_request(_unknown_api_log)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _not_found)
    return app


def blueprint_hooks(app: Flask, name: str) -> None:
    """Run LINE's gatekeeping around every request of an API blueprint."""
    app.before_request_funcs.setdefault(name, []).append(api_gate.before_api_request)
    app.after_request_funcs.setdefault(name, []).append(api_gate.after_api_request)


def _is_unmatched_api_call() -> bool:
    return request.path.startswith("/v2/") and request.blueprint is None


def _unknown_api_gate():
    # Paths no route matches still get a request id, auth and a log line, like LINE.
    if _is_unmatched_api_call():
        return api_gate.before_api_request()
    return None


def _unknown_api_log(response):
    if _is_unmatched_api_call() and "request_id" in g:
        return api_gate.after_api_request(response)
    return response


def _not_found(exc):
    if request.path.startswith("/v2/"):
        return jsonify({"message": "Not found"}), 404
    return jsonify({"error": "not found"}), 404
