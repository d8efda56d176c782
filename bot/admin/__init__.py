"""The staff dashboard under /admin: login, KPI page, charts and CSV exports.

Every page but the login form needs a logged-in staff member; every response is
uncacheable and carries a strict Content-Security-Policy (the pages need no script).
Owns: staff logins (staff), the dashboard's pages, charts and exports, and the snapshot
of their figures (snapshot: computed by the scheduler, read by the pages).
May import: bot.store, bot.config, bot.kpi, bot.dispatch (plan, test send), bot.clock
(the scheduler's Periodic), flask.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, Response, g, redirect, request, session, url_for

from bot.admin.staff import session_user

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

# Staff pages load only their own stylesheet and chart images; nothing may frame them.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# A chart is an SVG opened as an image: pygal puts its style inside the file, and an
# image can run no script, so inline style is the only thing allowed there.
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"
# The plan page draws notices with linesim's renderer: script from this site only, never
# inline; the renderer sets element styles through the DOM, which style-src does not limit.
PREVIEW_CSP = CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self';")
PUBLIC_ENDPOINTS = {"admin.login"}
SESSION_HOURS = 8  # one working day; then the signed cookie is refused and staff log in again


def init_admin(app: Flask) -> None:
    """Register the dashboard on `app` and make its session cookie safe."""
    from bot.admin.auth import LoginLimiter

    wiring = app.extensions["todoku"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=wiring.settings.public_url.lower().startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.extensions["todoku_login_limiter"] = LoginLimiter()
    app.register_blueprint(blueprint)
    app.register_error_handler(404, _not_found)


def _not_found(error):
    """A Japanese page for a dashboard address that does not exist; others keep theirs."""
    from flask import render_template

    if not request.path.startswith("/admin"):
        return error
    body = render_template("admin/not_found.html", title="ページが見つかりません")
    return protect(Response(body, 404))


@blueprint.before_request
def require_login() -> Response | None:
    """Send anyone not logged in to the login form, remembering the page they wanted."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    from bot.admin.auth import current_wiring

    staff_id, epoch = session.get("staff_id"), session.get("epoch")
    if isinstance(staff_id, int) and isinstance(epoch, int):
        with current_wiring().session_factory() as db:
            user = session_user(db, staff_id, epoch)
        if user is not None:
            g.staff_id, g.staff_name, g.staff_role = user.id, user.name, user.role
            return None
        session.clear()  # logged out, password changed or login removed: the cookie is void
    if request.method != "GET":
        return redirect(url_for("admin.login"))
    return redirect(url_for("admin.login", next=request.path))


@blueprint.after_request
def protect(response: Response) -> Response:
    """No caching of staff pages anywhere; a strict CSP; no framing, no sniffing."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


from bot.admin import auth, views  # noqa: E402,F401  (route modules register on `blueprint`)
