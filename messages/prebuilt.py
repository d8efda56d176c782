"""Fixed replies as LINE's JSON text, built once per arguments and reused.

Why: the webhook's most frequent replies (the welcome after a follow, 「登録すると…」 to
someone who has not consented, the city's phone and counter) depend only on the language
and the configuration's values, yet building them as the SDK's pydantic models and
serialising those again took about a sixth of a webhook's CPU (docs/benchmarks.md).
Here each is built once with the ordinary builder (so it is exactly what the SDK model
serialises to) and kept as the JSON text of the message object; the reply outbox joins
the texts without parsing them again (bot.registration.outbox.messages_json).

The texts come from the catalogue, read once at import (messages.texts), and every value
a builder reads from the configuration (the city's name, phone, counter) is one of its
arguments, so a staff edit of the configuration gets a new entry, never a stale one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

from messages import conversation

# Distinct argument tuples kept per builder: languages × a few flags × configurations.
CACHE_SIZE = 256


class MessageJson(str):
    """One LINE message object as JSON text (what `model.to_dict()` serialises to)."""

    __slots__ = ()

    def to_dict(self) -> dict:
        """The message object as a dict, like the SDK model's `to_dict()`."""
        return json.loads(self)


def as_json(message: Any) -> MessageJson:
    """An SDK message model (or a prebuilt message) as LINE's JSON text."""
    if isinstance(message, MessageJson):
        return message
    return MessageJson(json.dumps(message.to_dict(), ensure_ascii=False))


def prebuilt(builder: Callable[..., Any]) -> Callable[..., Any]:
    """`builder` with its result built once per (hashable) arguments, as MessageJson: one
    message stays one, a list of messages becomes a tuple of them."""

    @lru_cache(maxsize=CACHE_SIZE)
    def cached(*args: Any, **kwargs: Any) -> Any:
        built = builder(*args, **kwargs)
        if isinstance(built, list | tuple):
            return tuple(as_json(m) for m in built)
        return as_json(built)

    return wraps(builder)(cached)


# The replies the webhook sends most (see bot.registration.handlers and .menu).
build_contact = prebuilt(conversation.build_contact)
build_not_registered = prebuilt(conversation.build_not_registered)
build_note = prebuilt(conversation.build_note)
build_start_again = prebuilt(conversation.build_start_again)
build_welcome = prebuilt(conversation.build_welcome)
