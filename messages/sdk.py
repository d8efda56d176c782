"""The LINE SDK's message models, imported on first use: `sdk.TextMessage(...)`.

`import linebot.v3.messaging` takes over a second (its package builds a pydantic model for
every API method, sync and async). Builders that return SDK models name them through this
module, so importing them costs nothing until a model is built, and a caller that needs
only LINE's JSON (the dispatcher's notice, `messages.notice.notice_object`) never pays it.
"""

from __future__ import annotations

import importlib
from typing import Any

SDK = "linebot.v3.messaging"


def __getattr__(name: str) -> Any:
    value = getattr(importlib.import_module(SDK), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value
