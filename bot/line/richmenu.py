"""The rich menu, created through the Messaging API when a process starts, at most once.

LINE cannot replace a menu's image, so a menu is named after a hash of its definition
and image: if the default menu already carries that name nothing is done; a changed
image or label makes a new menu, and our older ones are deleted. Call it from one
place per deployment (a release step, gunicorn's master, `todoku demo`): workers
starting together could each create a menu; the last default wins and the next start
tidies the others away.
"""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files

import urllib3
from linebot.v3.messaging import ApiException

from bot.logs import get_logger
from messages import build_rich_menu

log = get_logger("todoku.richmenu")
PREFIX = "todoku-menu-"


def menu_image() -> bytes:
    """The committed PNG (bot/static/richmenu.png, 2500×843)."""
    return (files("bot") / "static" / "richmenu.png").read_bytes()


def menu_name(image: bytes) -> str:
    """A name that changes whenever the menu's areas, labels or image change."""
    definition = json.dumps(build_rich_menu(PREFIX).to_dict(), sort_keys=True).encode()
    return PREFIX + hashlib.sha256(definition + image).hexdigest()[:16]


def ensure_rich_menu(wiring) -> str | None:
    """Make our menu the default (creating it if needed); its id, or None if LINE failed."""
    try:
        return _ensure(wiring)
    except (ApiException, urllib3.exceptions.HTTPError) as exc:
        # The web process must still answer webhooks; the next start tries again.
        log.warning(
            "rich_menu_not_ensured", error=type(exc).__name__, status=getattr(exc, "status", None)
        )
        return None


def _ensure(wiring) -> str:
    api, timeout = wiring.line.api, (3.05, wiring.settings.line_timeout_seconds)
    image = menu_image()
    name = menu_name(image)
    current = _default_id(api, timeout)
    if current is not None and api.get_rich_menu(current, _request_timeout=timeout).name == name:
        return current
    menu_id = wiring.line.create_rich_menu(build_rich_menu(name), image)
    log.info("rich_menu_created", rich_menu_id=menu_id)
    # Tidy our older menus away, but never the default (another worker's, if it raced us).
    keep = {menu_id, _default_id(api, timeout)}
    for menu in api.get_rich_menu_list(_request_timeout=timeout).richmenus:
        if menu.name.startswith(PREFIX) and menu.rich_menu_id not in keep:
            api.delete_rich_menu(menu.rich_menu_id, _request_timeout=timeout)
    return menu_id


def _default_id(api, timeout) -> str | None:
    try:
        return api.get_default_rich_menu_id(_request_timeout=timeout).rich_menu_id
    except ApiException as exc:
        if exc.status == 404:  # no default menu yet
            return None
        raise
