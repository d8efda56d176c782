"""The rich menus, one per language, created through the Messaging API when a process starts.

The Japanese menu is the default (what every friend sees); the menus of the other languages
are linked to each resident who reads that language (POST /v2/bot/user/{id}/richmenu/{menu}),
when they are preselected from their LINE profile or choose a language.

LINE cannot replace a menu's image, so a menu is named after its language and a hash of its
definition and image: if a menu of that name exists nothing is done; a changed image or
label makes a new menu, and our older ones are deleted. Call it from one place per
deployment (a release step, gunicorn's master, `todoku demo`): workers starting together
could each create a menu; the last default wins and the next start tidies the others away.
Residents linked to a menu that was replaced get the new one when they next choose a
language; until then LINE shows them the default (a deleted menu is unlinked by LINE).
"""

from __future__ import annotations

import hashlib
import json
import threading
from importlib.resources import files

import urllib3
from linebot.v3.messaging import ApiException

from bot.logs import get_logger
from messages import DEFAULT, LANGUAGES, build_rich_menu

log = get_logger("todoku.richmenu")
PREFIX = "todoku-menu-"
# Linking runs on a web worker's reply threads after the commit: short, so a slow LINE
# does not hold them long (the resident keeps the default menu until their next choice).
LINK_TIMEOUT = (1.0, 2.0)


def menu_image(lang: str = DEFAULT) -> bytes:
    """The committed PNG of `lang` (bot/static/richmenu.png, richmenu-<lang>.png; 2500×843)."""
    name = "richmenu.png" if lang == DEFAULT else f"richmenu-{lang}.png"
    return (files("bot") / "static" / name).read_bytes()


def menu_name(image: bytes, lang: str = DEFAULT) -> str:
    """A name that changes whenever the menu's areas, labels or image change."""
    definition = json.dumps(build_rich_menu(PREFIX, lang).to_dict(), sort_keys=True).encode()
    digest = hashlib.sha256(definition + image).hexdigest()[:16]
    return PREFIX + digest if lang == DEFAULT else f"{PREFIX}{lang}-{digest}"


def ensure_rich_menu(wiring) -> str | None:
    """Make our menus exist, the Japanese one the default; its id, or None if LINE failed."""
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
    existing = {
        m.name: m.rich_menu_id for m in api.get_rich_menu_list(_request_timeout=timeout).richmenus
    }
    image = menu_image()
    name = menu_name(image)
    current = _default_id(api, timeout)
    if current is not None and api.get_rich_menu(current, _request_timeout=timeout).name == name:
        menu_id = current
    else:
        menu_id = wiring.line.create_rich_menu(build_rich_menu(name), image)
        log.info("rich_menu_created", rich_menu_id=menu_id, language=DEFAULT)
    ours = {name: menu_id}
    for lang in LANGUAGES:
        if lang == DEFAULT:
            continue
        image = menu_image(lang)
        name = menu_name(image, lang)
        if name not in existing:
            existing[name] = wiring.line.create_rich_menu(
                build_rich_menu(name, lang), image, default=False
            )
            log.info("rich_menu_created", rich_menu_id=existing[name], language=lang)
        ours[name] = existing[name]
    _remember(wiring, ours)
    keep = set(ours.values())
    # Tidy our older menus away, but never the default (another worker's, if it raced us).
    keep.add(_default_id(api, timeout))
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


# Menu ids by (LINE API base, menu name), filled from the menu list on first use: the
# start-up step may have run in another process (gunicorn's master).
_ids: dict[tuple[str, str], str] = {}
_ids_lock = threading.Lock()


def menu_id_for(wiring, lang: str) -> str | None:
    """The id of `lang`'s current menu, or None if it was not created (yet)."""
    name = menu_name(menu_image(lang), lang)
    key = (wiring.settings.line_api_base, name)
    with _ids_lock:
        if key not in _ids:
            menus = wiring.line.api.get_rich_menu_list(_request_timeout=LINK_TIMEOUT).richmenus
            for menu in menus:
                _ids[wiring.settings.line_api_base, menu.name] = menu.rich_menu_id
        return _ids.get(key)


def _remember(wiring, ours: dict[str, str]) -> None:
    """The menus just made sure of (name → id) are the ones `menu_id_for` gives for this
    LINE API base; what it remembered before is forgotten (menus since replaced, or another
    platform's that answered at the same address, as a test's linesim on a reused port)."""
    base = wiring.settings.line_api_base
    with _ids_lock:
        for key in [key for key in _ids if key[0] == base]:
            del _ids[key]
        _ids.update({(base, name): menu_id for name, menu_id in ours.items()})


def show_menu_in(wiring, line_user_id: str, lang: str) -> None:
    """Show one resident the menu of their language (Japanese: the default); never fatal."""
    try:
        api = wiring.line.api
        if lang == DEFAULT:
            api.unlink_rich_menu_id_from_user(line_user_id, _request_timeout=LINK_TIMEOUT)
            return
        menu_id = menu_id_for(wiring, lang)
        if menu_id is None:
            log.warning("rich_menu_missing", language=lang)
            return
        try:
            wiring.line.link_rich_menu(line_user_id, menu_id, timeout=LINK_TIMEOUT)
        except ApiException as exc:
            if exc.status != 404:
                raise
            # The menu was replaced since it was looked up: look it up again, once.
            with _ids_lock:
                _ids.clear()
            menu_id = menu_id_for(wiring, lang)
            if menu_id is not None:
                wiring.line.link_rich_menu(line_user_id, menu_id, timeout=LINK_TIMEOUT)
    except (ApiException, urllib3.exceptions.HTTPError) as exc:
        # The chat still works with the default menu; the next choice links it again.
        log.warning(
            "rich_menu_not_linked",
            language=lang,
            error=type(exc).__name__,
            status=getattr(exc, "status", None),
        )
