"""Logs carry event ids and counts, never a resident's answers or the LINE user id."""

from __future__ import annotations

import logging

from bot.logs import configure_logging
from tests.helpers import mentions_year
from tests.registration.chat import Chat, register_quickly


def test_a_whole_registration_logs_no_personal_data(sim, live_bot, capfd):
    """Birth date, district, household and the user id never reach the log output."""
    configure_logging("DEBUG")
    try:
        chat = Chat(sim)
        register_quickly(chat)  # born 1958-07-03, 大倉, 2 people, topic 高齢者
        chat.menu("review")
        chat.menu("delete")
        chat.tap("削除する")
    finally:
        logging.getLogger().handlers.clear()
    err = capfd.readouterr().err
    assert "webhook_event_handled" in err  # the logs were captured at all
    for secret in ("1958-07-03", "大倉", chat.user_id, "高齢者"):
        assert secret not in err, f"{secret!r} appears in the logs"
    assert not mentions_year(err, 1958), "the birth year appears in the logs"
