"""The web process: `gunicorn 'bot.app:create_app()'`."""

from __future__ import annotations

from flask import Flask, Request, Response, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from bot.settings import Settings
from bot.store.engine import WEB_TIMEOUT
from bot.store.health import health_problem
from bot.wiring import Wiring, wire


def create_app(settings: Settings | None = None, wiring: Wiring | None = None) -> Flask:
    """Build the Flask app; refuses to start without secrets or with an invalid config."""
    if wiring is None:
        from bot.logs import configure_logging

        settings = settings or Settings.from_env()
        configure_logging(settings.log_level)
        wiring = wire(settings, db_timeout=WEB_TIMEOUT)
    app = Flask(__name__)
    proxies = wiring.settings.trusted_proxies
    if proxies:
        # Behind a load balancer: take the client address and scheme from the N proxies we
        # run (login rate limits per address, Secure cookies). Never trust more hops.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.config["SECRET_KEY"] = wiring.settings.secret_key.get_secret_value()
    app.session_interface = NoSessionForLine()
    app.extensions["todoku"] = wiring

    from flask_wtf.csrf import CSRFProtect

    from bot.admin import init_admin
    from bot.clicks import blueprint as clicks_blueprint
    from bot.registration.webhook import FastPath as WebhookFastPath
    from bot.registration.webhook import blueprint as webhook_blueprint

    app.register_blueprint(webhook_blueprint)
    app.wsgi_app = WebhookFastPath(app, app.wsgi_app)  # POST /callback without Flask
    app.register_blueprint(clicks_blueprint)
    # Every form needs a CSRF token; the webhook is exempt: its signature is its protection.
    CSRFProtect(app).exempt(webhook_blueprint)
    init_admin(app)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """200 when the schema is at head and the database takes a write, within 3 s; else 503."""
        problem = health_problem(wiring.engine)
        if problem is None:
            return jsonify(status="ok"), 200
        return jsonify(status="database unavailable", reason=problem), 503

    @app.after_request
    def no_sniffing(response: Response) -> Response:
        # Browsers must take every answer (the /r/ 404 page, /healthz's JSON) as labelled.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app


class NoSessionForLine(SecureCookieSessionInterface):
    """Staff sessions as Flask keeps them; LINE's webhook gets none (Flask's null session).

    A webhook is signed, not logged in: opening a cookie session for each one built the
    cookie's signing serializer per request (~3 % of a webhook's CPU under load, py-spy),
    and a null session also guarantees that no webhook code ever writes a cookie.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path == "/callback":
            return None  # Flask then uses make_null_session: reading works, writing raises
        return super().open_session(app, request)
