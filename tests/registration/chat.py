"""A resident in linesim who reads the bot's last message and taps its buttons, counting taps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from bot.store.models import Resident
from messages import encode


class Chat:
    """One simulated resident talking to the live bot through linesim."""

    def __init__(self, sim, name: str = "村山 花子", language: str | None = None) -> None:
        self.sim = sim
        self.user_id = sim.create_user(name, language)  # their LINE app's language
        self.taps = 0
        self._seen = 0

    def follow(self) -> list[dict]:
        """Add the account; returns the messages it answered with."""
        self.sim.follow(self.user_id)
        return self.new()

    def new(self) -> list[dict]:
        """Messages the bot sent since the last look."""
        everything = [m["message"] for m in self.sim.messages(self.user_id)]
        fresh, self._seen = everything[self._seen :], len(everything)
        return fresh

    def last(self) -> dict:
        """The latest message the bot sent (whose quick reply is on screen)."""
        return self.sim.messages(self.user_id)[-1]["message"]

    def labels(self) -> list[str]:
        """The quick reply buttons on screen."""
        return [i["action"]["label"] for i in self.last().get("quickReply", {}).get("items", [])]

    def tap(self, label: str, date: str | None = None, message: dict | None = None) -> list[dict]:
        """Tap a button (quick reply or Flex) by its label; `date` for a date picker."""
        action = _find(message or self.last(), label)
        self.taps += 1
        if action["type"] == "datetimepicker":
            assert date is not None, f"{label} is a date picker: give a date"
            self.sim.postback(self.user_id, action["data"], {"date": date})
        else:
            assert date is None
            self.sim.postback(self.user_id, action["data"], display_text=action.get("displayText"))
        return self.new()

    def menu(self, item: str) -> list[dict]:
        """Tap one of the rich menu's four areas (review, programs, pause, delete)."""
        self.taps += 1
        self.sim.postback(self.user_id, encode("menu", v=item))
        return self.new()

    def say(self, text: str) -> list[dict]:
        """Type a message."""
        self.sim.text(self.user_id, text)
        return self.new()

    def sticker(self) -> list[dict]:
        """Send a sticker."""
        self.sim.sticker(self.user_id)
        return self.new()


def _find(message: dict, label: str) -> dict:
    found = [a for a in _actions(message) if a.get("label") == label]
    assert found, f"no button {label!r} in {message}"
    return found[0]


def _actions(node) -> Iterator[dict]:
    if isinstance(node, dict):
        if "label" in node and "type" in node and node["type"] != "action":
            yield node
        for value in node.values():
            yield from _actions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _actions(value)


def texts(messages: list[dict]) -> str:
    """Every text the messages show, joined (Flex texts included)."""
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(messages)
    return "\n".join(found)


def resident_row(live_bot, user_id: str) -> Resident | None:
    with live_bot.wiring.session_factory() as s:
        resident = s.scalar(select(Resident).where(Resident.line_user_id == user_id))
        if resident is not None:
            _ = list(resident.children), list(resident.interests)  # load before close
        return resident


def stored_language(engine, user_id: str) -> str | None:
    """The resident's residents.language as committed (None: no such resident)."""
    with engine.connect() as conn:
        return conn.execute(
            select(Resident.language).where(Resident.line_user_id == user_id)
        ).scalar()


@contextmanager
def front_held(writer) -> Iterator[None]:
    """Take the EventWriter's front place, as a thread writing a batch that does not end,
    until the block ends; then the threads waiting take their turns."""
    own = threading.Condition(writer._queue_lock)
    with writer._queue_lock:
        assert writer._wait_turn(own, lambda: False, time.monotonic() + 5, lambda: None)
    try:
        yield
    finally:
        writer._leave_front(own)


def register_quickly(chat: Chat) -> None:
    """A short registration used by other tests: born 1958, 大倉, 2 people, no children."""
    chat.follow()
    chat.tap("同意して登録する")
    chat.tap("カレンダーで選ぶ", date="1958-07-03")
    chat.tap("大倉")
    chat.tap("2人")
    chat.tap("いない")
    chat.tap("高齢者")
    chat.tap("完了")
