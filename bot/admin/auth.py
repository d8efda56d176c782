"""Staff login and logout: Argon2id check, failed-login limits, audit entries, safe redirects."""

from __future__ import annotations

import re
import time

from flask import (
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.admin import blueprint
from bot.admin.staff import MAX_NAME_LENGTH, authenticate, record
from bot.store.engine import transaction

# Only a path on the dashboard itself: no scheme, no host, no "//", no "..", no backslash.
SAFE_NEXT = re.compile(r"/admin(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*/?")
TOO_MANY = (
    "ログインの失敗が続いたため、しばらくログインできません。"
    "15分ほど待ってから、もう一度お試しください。"
)
WRONG = "名前またはパスワードが違います。"


class LoginLimiter:
    """Failed logins per staff name and per client address (moving 15-minute windows)."""

    # 5 per name stops guessing one account's password; a whole office shares one address
    # behind the city's network, so the address limit is looser.
    PER_NAME = parse("5 per 15 minutes")
    PER_ADDRESS = parse("20 per 15 minutes")

    def __init__(self) -> None:
        # Memory storage counts per web process; several processes each count on their own
        # (the limits library has no SQL storage, and the processes share only the database).
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allowed(self, name: str, address: str) -> bool:
        """False once either the name or the address used up its failed attempts."""
        return self._limiter.test(self.PER_NAME, "login-name", name) and self._limiter.test(
            self.PER_ADDRESS, "login-address", address
        )

    def failed(self, name: str, address: str) -> None:
        """Count one failed attempt against the name and the address."""
        self._limiter.hit(self.PER_NAME, "login-name", name)
        self._limiter.hit(self.PER_ADDRESS, "login-address", address)

    def retry_after(self, name: str, address: str) -> int:
        """Seconds until the next attempt may be made."""
        resets = [
            self._limiter.get_window_stats(self.PER_NAME, "login-name", name).reset_time,
            self._limiter.get_window_stats(self.PER_ADDRESS, "login-address", address).reset_time,
        ]
        return max(1, int(max(resets) - time.time()))


def current_wiring():
    """The process wiring the app was built with."""
    return current_app.extensions["todoku"]


def safe_next(value: str | None) -> str:
    """Where to go after login: the requested dashboard path, else the dashboard itself."""
    if value and SAFE_NEXT.fullmatch(value):
        return value
    return url_for("admin.index")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """The login form; on success start a staff session and go to the requested page."""
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("admin/login.html", next=next_path)
    name = request.form.get("name", "").strip()[:MAX_NAME_LENGTH]
    password = request.form.get("password", "")
    address = request.remote_addr or "unknown"
    limiter: LoginLimiter = current_app.extensions["todoku_login_limiter"]
    wiring = current_wiring()
    if not limiter.allowed(name, address):
        # Refused before the password is checked, so guessing on gains nothing.
        with transaction(wiring.session_factory) as db:
            record(db, wiring.clock.now(), "-", "login_blocked", f"address {address}")
        body = render_template("admin/login.html", next=next_path, error=TOO_MANY, name=name)
        return Response(body, 429, {"Retry-After": str(limiter.retry_after(name, address))})
    with transaction(wiring.session_factory) as db:
        user = authenticate(db, name, password)
        # A failed attempt is logged without the typed name: it may be a mistyped password.
        actor, action = (user.name, "login") if user else ("-", "login_failed")
        record(db, wiring.clock.now(), actor, action, f"address {address}")
        staff_id = user.id if user else None
    if staff_id is None:
        limiter.failed(name, address)
        return render_template("admin/login.html", next=next_path, error=WRONG, name=name), 401
    session.clear()  # a fresh session for the new login
    session.permanent = True
    session["staff_id"], session["staff_name"] = staff_id, name
    return redirect(next_path)


@blueprint.post("/logout")
def logout() -> Response:
    """End the staff session."""
    wiring = current_wiring()
    with transaction(wiring.session_factory) as db:
        record(db, wiring.clock.now(), g.staff_name, "logout")
    session.clear()
    return redirect(url_for("admin.login"))


@blueprint.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> tuple[str, int]:
    """A form without a valid CSRF token (or from a page open too long)."""
    message = (
        "フォームの有効期限が切れたか、正しくない送信です。"
        "ページを読み込み直してから、もう一度お試しください。"
    )
    return render_template("admin/error.html", message=message), 400
