"""The rich menu: four areas on a 2×2 grid matching bot/static/richmenu*.png (one per language)."""

from __future__ import annotations

from linebot.v3.messaging import (
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)

from messages.languages import DEFAULT
from messages.postback import encode
from messages.texts import say

WIDTH, HEIGHT = 2500, 843
# (what the area does, its label), left to right, top to bottom, as drawn on the image.
MENU_ITEMS = (("review", "menu_review"), ("programs", "menu_programs"),
              ("pause", "menu_pause"), ("delete", "menu_delete"))  # fmt: skip


def build_rich_menu(name: str, lang: str = DEFAULT) -> RichMenuRequest:
    """The menu object to create in `lang` (the image is uploaded separately)."""
    half_w, half_h = WIDTH // 2, HEIGHT // 2
    areas = []
    for i, (item, label) in enumerate(MENU_ITEMS):
        x, y = (i % 2) * half_w, (i // 2) * half_h
        bounds = RichMenuBounds(
            x=x, y=y, width=WIDTH - half_w if x else half_w, height=HEIGHT - half_h if y else half_h
        )
        action = PostbackAction(
            label=say(label, lang), data=encode("menu", v=item), displayText=say(label, lang)
        )
        areas.append(RichMenuArea(bounds=bounds, action=action))
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=True,
        name=name,
        chatBarText=say("menu_bar", lang),
        areas=areas,
    )
