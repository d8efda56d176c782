"""The web process: `gunicorn 'bot.app:create_app()'`."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from bot.settings import Settings
from bot.store.engine import database_answers
from bot.wiring import Wiring, wire


def create_app(settings: Settings | None = None, wiring: Wiring | None = None) -> Flask:
    """Build the Flask app; refuses to start without secrets or with an invalid config."""
    if wiring is None:
        from bot.logs import configure_logging

        settings = settings or Settings.from_env()
        configure_logging(settings.log_level)
        wiring = wire(settings)
    app = Flask(__name__)
    proxies = wiring.settings.trusted_proxies
    if proxies:
        # Behind a load balancer: take the client address and scheme from the N proxies we
        # run (login rate limits per address, Secure cookies). Never trust more hops.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.config["SECRET_KEY"] = wiring.settings.secret_key.get_secret_value()
    app.extensions["todoku"] = wiring

    from flask_wtf.csrf import CSRFProtect

    from bot.admin import init_admin
    from bot.clicks import blueprint as clicks_blueprint
    from bot.registration.webhook import blueprint as webhook_blueprint

    app.register_blueprint(webhook_blueprint)
    app.register_blueprint(clicks_blueprint)
    # Every form needs a CSRF token; the webhook is exempt: its signature is its protection.
    CSRFProtect(app).exempt(webhook_blueprint)
    init_admin(app)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """200 when the database answers, 503 otherwise."""
        ok = database_answers(wiring.engine)
        return jsonify(status="ok" if ok else "database unavailable"), 200 if ok else 503

    return app
