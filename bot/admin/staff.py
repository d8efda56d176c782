"""Staff accounts for the dashboard: Argon2id password hashes, login checks, the audit log."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import UserError
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


def create_staff(factory, name: str, password: str, now: datetime) -> StaffUser:
    """Add a staff login and an audit entry; UserError for a weak password or a taken name."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise UserError(f"名前は1〜{MAX_NAME_LENGTH}文字で指定してください。")
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    user = StaffUser(name=name, password_hash=hash_password(password), created_at=now)
    try:
        with transaction(factory) as session:
            if session.scalar(select(StaffUser.id).where(StaffUser.name == name)) is not None:
                raise UserError(_taken(name))
            session.add(user)
            record(session, now, name, "staff_added")
    except IntegrityError:  # added by someone else between the check and the insert
        raise UserError(_taken(name)) from None
    return user


def _taken(name: str) -> str:
    return f"職員「{name}」はすでに登録されています。別の名前を指定してください。"


def authenticate(session: Session, name: str, password: str) -> StaffUser | None:
    """The staff user when name and password match, else None (same cost either way)."""
    user = session.scalar(select(StaffUser).where(StaffUser.name == name))
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


def staff_exists(session: Session, staff_id: int, name: str) -> bool:
    """True while the staff login behind a session still exists (deleting it logs them out)."""
    query = select(StaffUser.id).where(StaffUser.id == staff_id, StaffUser.name == name)
    return session.scalar(query) is not None


def record(session: Session, now: datetime, actor: str, action: str, detail: str | None = None):
    """Add an audit entry (who did what); never put resident data in `detail`."""
    session.add(AuditEntry(at=now, actor=actor[:MAX_NAME_LENGTH], action=action, detail=detail))


def staff_add_command(wiring, name: str, password: str) -> int:
    """`todoku staff add NAME` after the password was asked: create the login; exit code."""
    create_staff(wiring.session_factory, name, password, wiring.clock.now())
    print(f"職員「{name.strip()}」を登録しました。/admin/login からログインできます。")
    return 0
