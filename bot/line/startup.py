"""One-time start-up work against the LINE platform (gunicorn master, `serve`, `demo`)."""

from __future__ import annotations

from bot.errors import SendError
from bot.logs import get_logger

log = get_logger("todoku.startup")


def prepare_line_platform(wiring) -> None:
    """Make sure the resident rich menu exists and is the default; never fatal."""
    from bot.line.richmenu import ensure_rich_menu

    try:
        ensure_rich_menu(wiring)
    except (SendError, OSError) as exc:
        # The webhook must keep working even if LINE is briefly unreachable at start-up.
        log.warning("rich_menu_setup_failed", error=type(exc).__name__)
