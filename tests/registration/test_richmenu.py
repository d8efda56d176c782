"""The rich menu is created through the API once, and again only when it changes."""

from __future__ import annotations

from bot.line.richmenu import PREFIX, ensure_rich_menu, menu_image, menu_name
from messages import build_rich_menu


def test_image_is_a_png_within_line_limits():
    """2500×843 PNG under 1 MB."""
    image = menu_image()
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) <= 1024 * 1024
    assert (int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")) == (
        2500, 843)  # fmt: skip


def test_menu_is_created_once_and_made_the_default(live_bot, linesim_server):
    """Two starts: one menu, the default, with its image uploaded."""
    first = ensure_rich_menu(live_bot.wiring)
    second = ensure_rich_menu(live_bot.wiring)
    assert first is not None and first == second
    api = live_bot.wiring.line.api
    assert api.get_default_rich_menu_id().rich_menu_id == first
    menus = api.get_rich_menu_list().richmenus
    assert [m.rich_menu_id for m in menus] == [first]
    assert menus[0].name == menu_name(menu_image())
    assert not [r for r in linesim_server.sim.state.requests if r["problems"]]


def test_a_changed_menu_replaces_our_older_one(live_bot):
    """A menu of ours with another version is replaced and deleted; others are left alone."""
    line = live_bot.wiring.line
    old = line.create_rich_menu(build_rich_menu(PREFIX + "old"), menu_image())
    foreign = line.create_rich_menu(build_rich_menu("staff-made menu"), menu_image())
    line.api.set_default_rich_menu(old)
    new = ensure_rich_menu(live_bot.wiring)
    assert new not in (old, foreign)
    ids = {m.rich_menu_id for m in line.api.get_rich_menu_list().richmenus}
    assert ids == {new, foreign}
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
