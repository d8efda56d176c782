"""Staff login and logout: Argon2id check, failed-login limits, audit entries, safe redirects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from sqlalchemy.orm import Session

from bot.admin import blueprint
from bot.admin.staff import MAX_NAME_LENGTH, authenticate, end_sessions, record
from bot.store import dashboard_queries as q
from bot.store.engine import transaction
from bot.store.models import LoginFailure

# Only a path on the dashboard itself: no scheme, no host, no "//", no "..", no backslash.
SAFE_NEXT = re.compile(r"/admin(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*/?")
TOO_MANY = (
    "ログインの失敗が続いたため、しばらくログインできません。"
    "15分ほど待ってから、もう一度お試しください。"
)
WRONG = "名前またはパスワードが違います。"
LOGGED_OUT = "ログアウトしました。"


@dataclass(frozen=True)
class Limit:
    """At most `attempts` failed logins in a moving window of `window`."""

    attempts: int
    window: timedelta


class LoginLimiter:
    """Failed logins counted in the database, so every web process and worker shares them.

    Each attempt is written before its password is checked and counted after, so a burst
    of parallel attempts cannot slip past the limit (the k-th to commit sees at least k).
    A pair of name and address that logged in successfully lately is held only by its own
    limit: guessing a colleague's password from elsewhere cannot lock the colleague out.
    """

    # 5 per (name, address) stops guessing one account's password from one place.
    PAIR = Limit(5, timedelta(minutes=15))
    # A whole office shares one address behind the city's network: looser per address.
    ADDRESS = Limit(20, timedelta(minutes=15))
    # Slower limits over every address: one name, and all names (a distributed guess).
    NAME = Limit(30, timedelta(hours=1))
    GLOBAL = Limit(300, timedelta(hours=1))
    FAMILIAR_FOR = timedelta(days=90)
    KEEP = timedelta(days=1)

    def begin(self, db: Session, name: str, address: str, now: datetime) -> int:
        """Write this attempt (as a failure until proven otherwise); its row id."""
        db.execute(q.drop_old_failures(now - self.KEEP))
        failure = LoginFailure(at=now, name=name, address=address)
        db.add(failure)
        db.flush()
        return failure.id

    def retry_after(self, db: Session, name: str, address: str, now: datetime) -> int | None:
        """None when the attempt may go on, else the seconds to wait (counts include it)."""
        limits = [(self.PAIR, {"name": name, "address": address})]
        familiar = db.scalar(q.familiar_address(name, address, now - self.FAMILIAR_FOR))
        if familiar is None:
            limits += [
                (self.ADDRESS, {"address": address}),
                (self.NAME, {"name": name}),
                (self.GLOBAL, {}),
            ]
        waits = []
        for limit, where in limits:
            count, oldest = db.execute(q.failures_since(now - limit.window, **where)).one()
            if count > limit.attempts:
                waits.append(int((oldest + limit.window - now).total_seconds()) + 1)
        return max(waits) if waits else None

    def refused(self, db: Session, failure_id: int) -> None:
        """The attempt was refused unchecked: it does not prolong the wait."""
        db.execute(q.drop_failure(failure_id))

    def succeeded(self, db: Session, name: str, address: str) -> None:
        """A correct password clears this pair's failures (and this attempt)."""
        db.execute(q.forget_failures(name=name, address=address))


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
        notice = LOGGED_OUT if request.args.get("done") == "logout" else None
        return render_template("admin/login.html", next=next_path, notice=notice)
    name = request.form.get("name", "").strip()[:MAX_NAME_LENGTH]
    password = request.form.get("password", "")
    address = (request.remote_addr or "unknown")[:64]
    limiter: LoginLimiter = current_app.extensions["todoku_login_limiter"]
    wiring = current_wiring()
    now = wiring.clock.now()
    with transaction(wiring.session_factory) as db:
        attempt = limiter.begin(db, name, address, now)
    with transaction(wiring.session_factory) as db:
        wait = limiter.retry_after(db, name, address, now)
        if wait is not None:
            # Refused before the password is checked, so guessing on gains nothing.
            limiter.refused(db, attempt)
            record(db, now, "-", "login_blocked", f"address {address}")
    if wait is not None:
        body = render_template("admin/login.html", next=next_path, error=TOO_MANY, name=name)
        return Response(body, 429, {"Retry-After": str(wait)})
    with transaction(wiring.session_factory) as db:
        user = authenticate(db, name, password)
        # A failed attempt is logged without the typed name: it may be a mistyped password.
        actor, action = (user.name, "login") if user else ("-", "login_failed")
        record(db, now, actor, action, f"address {address}")
        if user is not None:
            limiter.succeeded(db, name, address)
        signed_in = (user.id, user.session_epoch) if user else None
    if signed_in is None:  # the attempt's row stays: it is the failure counted
        return render_template("admin/login.html", next=next_path, error=WRONG, name=name), 401
    session.clear()  # a fresh session for the new login
    session.permanent = True
    session["staff_id"], session["epoch"] = signed_in
    return redirect(next_path)


@blueprint.post("/logout")
def logout() -> Response:
    """End the staff session: every copy of its cookie stops working at once."""
    wiring = current_wiring()
    with transaction(wiring.session_factory) as db:
        end_sessions(db, g.staff_id)
        record(db, wiring.clock.now(), g.staff_name, "logout")
    session.clear()
    return redirect(url_for("admin.login", done="logout"))


@blueprint.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> tuple[str, int]:
    """A form without a valid CSRF token (or from a page open too long)."""
    message = (
        "フォームの有効期限が切れたか、正しくない送信です。"
        "ページを読み込み直してから、もう一度お試しください。"
    )
    return render_template("admin/error.html", message=message), 400
