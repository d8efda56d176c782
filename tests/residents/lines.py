"""Shared set-up of the residents import tests: LINE ids and JSON Lines files (the
sample configuration is the `config` fixture in conftest.py)."""

from __future__ import annotations

import json


def uid(n: int) -> str:
    return f"U{n:032x}"


def write(tmp_path, *lines) -> str:
    """A residents.jsonl of `lines`: dicts as JSON, strings as they are (bad lines)."""
    path = tmp_path / "residents.jsonl"
    path.write_text(
        "".join(
            (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines
        ),
        encoding="utf-8",
    )
    return str(path)
