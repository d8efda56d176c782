"""Staff accounts for the dashboard: Argon2id password hashes, login checks, the audit log."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.admin.roles import ROLES
from bot.errors import UserError
from bot.store.dashboard_queries import all_staff, bump_session_epoch, staff_id_named, staff_named
from bot.store.engine import transaction
from bot.store.models import AuditEntry, StaffUser

MIN_PASSWORD_LENGTH = 12
MAX_NAME_LENGTH = 80


# RFC 9106's second recommended option (Argon2id, 64 MiB, t=3, p=4), argon2-cffi's
# default. The test suite swaps in profiles.CHEAPEST: hashing speed is not under test.
PARAMETERS: Parameters = profiles.RFC_9106_LOW_MEMORY


def _hasher() -> PasswordHasher:
    return _hasher_for(repr(PARAMETERS))


@cache
def _hasher_for(key: str) -> PasswordHasher:
    # Keyed by repr: argon2's Parameters is not hashable.
    return PasswordHasher.from_parameters(PARAMETERS)


def _dummy_hash() -> str:
    return _dummy_hash_for(repr(PARAMETERS))


@cache
def _dummy_hash_for(key: str) -> str:
    # Verified when the name is unknown, so a wrong name costs as long as a wrong password
    # and response times do not reveal which staff names exist.
    return _hasher().hash("todoku-dummy-password-for-timing")


def hash_password(password: str) -> str:
    """An Argon2id hash of `password` (salted, with its parameters inside)."""
    return _hasher().hash(password)


def password_problem(password: str) -> str | None:
    """Why `password` may not be used (Japanese, for staff), or None when it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"パスワードが短すぎます（{len(password)}文字）。"
            f"{MIN_PASSWORD_LENGTH}文字以上のパスワードを設定してください。"
        )
    return None


def create_staff(
    factory, name: str, password: str, now: datetime, role: str = "viewer", actor: str | None = None
) -> StaffUser:
    """Add a staff login and an audit entry; UserError for a weak password or a taken name."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise UserError(f"名前は1〜{MAX_NAME_LENGTH}文字で指定してください。")
    if role not in ROLES:
        raise UserError(f"役割は {', '.join(ROLES)} のどれかを指定してください。")
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    user = StaffUser(
        name=name, password_hash=hash_password(password), created_at=now, role=role, session_epoch=0
    )
    try:
        with transaction(factory) as session:
            if session.scalar(staff_id_named(name)) is not None:
                raise UserError(_taken(name))
            session.add(user)
            record(session, now, actor or name, "staff_added", f"name={name} role={role}")
    except IntegrityError:  # added by someone else between the check and the insert
        raise UserError(_taken(name)) from None
    return user


def _existing(session: Session, name: str) -> StaffUser:
    user = session.scalar(staff_named(name.strip()))
    if user is None:
        raise UserError(f"職員「{name.strip()}」は登録されていません。名前を確かめてください。")
    return user


def change_password(factory, name: str, password: str, now: datetime, actor: str) -> None:
    """Set a new password; every session of that login ends at once (its epoch moves on)."""
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    with transaction(factory) as session:
        user = _existing(session, name)
        user.password_hash = hash_password(password)
        session.flush()
        session.execute(bump_session_epoch(user.id))
        record(session, now, actor, "staff_password_changed", f"name={user.name}")


def remove_staff(factory, name: str, now: datetime, actor: str) -> None:
    """Delete a staff login; its sessions stop working with the next request."""
    with transaction(factory) as session:
        user = _existing(session, name)
        session.delete(user)
        record(session, now, actor, "staff_removed", f"name={user.name}")


def end_sessions(session: Session, staff_id: int) -> None:
    """Invalidate every session cookie of this login (logout: copies of the cookie too)."""
    session.execute(bump_session_epoch(staff_id))


def list_staff(session: Session) -> list[StaffUser]:
    """Every staff login, by name."""
    return list(session.scalars(all_staff()))


def _taken(name: str) -> str:
    return f"職員「{name}」はすでに登録されています。別の名前を指定してください。"


def authenticate(session: Session, name: str, password: str) -> StaffUser | None:
    """The staff user when name and password match, else None (same cost either way)."""
    user = session.scalar(staff_named(name))
    try:
        _hasher().verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        # Parameters were raised since this hash was made: store a stronger one now.
        user.password_hash = hash_password(password)
    return user


def session_user(session: Session, staff_id: int, epoch: int) -> StaffUser | None:
    """The staff login behind a session cookie, or None once it was ended or removed."""
    user = session.get(StaffUser, staff_id)
    if user is None or user.session_epoch != epoch:
        return None
    return user


def record(session: Session, now: datetime, actor: str, action: str, detail: str | None = None):
    """Add an audit entry (who did what); never put resident data in `detail`."""
    session.add(AuditEntry(at=now, actor=actor[:MAX_NAME_LENGTH], action=action, detail=detail))
