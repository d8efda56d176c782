"""Staff roles: what each may do on the dashboard, and the check every route makes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, render_template

# Each role may do what the roles before it may.
ROLES = {
    "viewer": "閲覧",  # read the figures, the plan and previews, download the CSVs
    "sender": "配信",  # also: test sends, enter the month's homepage visitors
    "admin": "管理",  # also: staff accounts, the audit log
}
RANK = {role: i for i, role in enumerate(ROLES)}
FORBIDDEN = (
    "この操作には「{needed}」の権限が必要です。必要な場合は、管理の担当者に依頼してください。"
)


def allows(role: str, needed: str) -> bool:
    """True when `role` may do what `needed` may (an unknown role may do nothing)."""
    return role in RANK and RANK[role] >= RANK[needed]


def role_label(role: str) -> str:
    """「管理」 for admin (the role itself if unknown)."""
    return ROLES.get(role, role)


def requires(needed: str) -> Callable:
    """Decorate a dashboard route: 403 with a Japanese page unless the staff role allows."""
    if needed not in RANK:
        raise ValueError(f"unknown role {needed!r}")

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not allows(g.staff_role, needed):
                message = FORBIDDEN.format(needed=ROLES[needed])
                title = "権限がありません"
                page = render_template("admin/error.html", message=message, title=title)
                return page, 403
            return view(*args, **kwargs)

        guarded.required_role = needed
        return guarded

    return decorate
