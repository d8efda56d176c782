"""Taps in 使える制度を見る go through click tracking: HP visits from LINE are a KPI."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from bot.store.models import Click
from tests.registration.chat import Chat, register_quickly


def test_program_card_links_are_tracked_and_lead_to_the_configured_page(sim, live_bot):
    """くわしく見る opens /r/<token>: a Click is counted and the city's page follows."""
    chat = Chat(sim)
    register_quickly(chat)
    carousel = next(m for m in chat.menu("programs") if m["type"] == "flex")
    card = carousel["contents"]["contents"][0]
    name = card["body"]["contents"][0]["text"]
    program = next(p for p in live_bot.wiring.config.programs if p.name == name)
    details = next(b for b in card["footer"]["contents"] if b["action"]["label"] == "くわしく見る")
    path = urlsplit(details["action"]["uri"]).path
    assert path.startswith("/r/")
    answer = requests.get(live_bot.url + path, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["Location"] == program.homepage
    with live_bot.wiring.session_factory() as s:
        clicks = s.scalars(select(Click)).all()
    assert [(c.program_id, c.link, c.run_id) for c in clicks] == [(program.id, "homepage", None)]
    sim.assert_no_problems()
