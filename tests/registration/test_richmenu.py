"""The rich menus (one per language) are created through the API once, and again only when
they change; the Japanese one is the default, the others are linked per resident."""

from __future__ import annotations

import pytest

from bot.line.richmenu import PREFIX, ensure_rich_menu, menu_id_for, menu_image, menu_name
from messages import LANGUAGES, build_rich_menu, say


@pytest.mark.parametrize("lang", LANGUAGES)
def test_image_is_a_png_within_line_limits(lang):
    """2500×843 PNG under 1 MB, in every language."""
    image = menu_image(lang)
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) <= 1024 * 1024
    assert (int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")) == (2500, 843)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_its_labels_from_the_catalogue(lang):
    menu = build_rich_menu("x", lang).to_dict()
    labels = [area["action"]["label"] for area in menu["areas"]]
    assert labels == [
        say(key, lang) for key in ("menu_review", "menu_programs", "menu_pause", "menu_delete")
    ]
    assert menu["chatBarText"] == say("menu_bar", lang)
    assert len({menu_name(menu_image(code), code) for code in LANGUAGES}) == len(LANGUAGES)


def test_menu_is_created_once_and_made_the_default(live_bot, linesim_server):
    """Two starts: one menu per language, the Japanese one the default, images uploaded."""
    first = ensure_rich_menu(live_bot.wiring)
    second = ensure_rich_menu(live_bot.wiring)
    assert first is not None and first == second
    api = live_bot.wiring.line.api
    assert api.get_default_rich_menu_id().rich_menu_id == first
    menus = {m.name: m.rich_menu_id for m in api.get_rich_menu_list().richmenus}
    assert sorted(menus) == sorted(menu_name(menu_image(lang), lang) for lang in LANGUAGES)
    assert menus[menu_name(menu_image())] == first
    for lang in LANGUAGES:
        assert menu_id_for(live_bot.wiring, lang) == menus[menu_name(menu_image(lang), lang)]
    assert not [r for r in linesim_server.sim.state.requests if r["problems"]]


def test_a_start_forgets_menu_ids_remembered_for_the_same_address(live_bot):
    """Menu ids a process remembered for this LINE address before a start (menus since
    replaced, or another platform that answered there) are not used after it: each
    language's menu is the one LINE has now. (A test's linesim on a reused port got the
    last one's English menu id, and the welcome linked a menu the test did not expect.)"""
    from bot.line import richmenu

    wiring = live_bot.wiring
    base = wiring.settings.line_api_base
    for lang in LANGUAGES:
        richmenu._ids[base, menu_name(menu_image(lang), lang)] = f"richmenu-gone-{lang}"
    ensure_rich_menu(wiring)
    menus = {m.name: m.rich_menu_id for m in wiring.line.api.get_rich_menu_list().richmenus}
    for lang in LANGUAGES:
        assert menu_id_for(wiring, lang) == menus[menu_name(menu_image(lang), lang)]


def test_a_changed_menu_replaces_our_older_one(live_bot):
    """A menu of ours with another version is replaced and deleted; others are left alone."""
    line = live_bot.wiring.line
    old = line.create_rich_menu(build_rich_menu(PREFIX + "old"), menu_image())
    foreign = line.create_rich_menu(build_rich_menu("staff-made menu"), menu_image())
    line.api.set_default_rich_menu(old)
    new = ensure_rich_menu(live_bot.wiring)
    assert new not in (old, foreign)
    menus = {m.rich_menu_id: m.name for m in line.api.get_rich_menu_list().richmenus}
    assert old not in menus and {new, foreign} <= set(menus)
    others = {name for i, name in menus.items() if i not in (new, foreign)}
    assert others == {menu_name(menu_image(lang), lang) for lang in LANGUAGES[1:]}
    assert line.api.get_default_rich_menu_id().rich_menu_id == new


def test_line_unreachable_is_not_fatal(wiring):
    """Without LINE (nothing listens), the web process still starts: None, no exception."""
    assert ensure_rich_menu(wiring) is None


def test_api_errors_are_reported_as_none(live_bot, linesim_server):
    """A LINE error while creating (here: every call fails) leaves the process running."""
    linesim_server.sim.faults.configure({"error_rate": 1.0})
    try:
        assert ensure_rich_menu(live_bot.wiring) is None
    finally:
        linesim_server.sim.faults.configure({})
