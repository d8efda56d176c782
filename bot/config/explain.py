"""Explain pydantic validation errors to staff: where in the file, what is wrong, what is valid."""

from __future__ import annotations

import difflib
from typing import Any, get_args

from pydantic import BaseModel

from bot.config.problems import PathPart, Problem, dotted
from bot.config.yamlsource import YamlDoc

# What a value of a given pydantic error type should look like, in staff's terms.
EXPECTED = {
    "datetime": "a local date and time like 2026-05-01 10:00",
    "date": "a date like 2026-04-01",
    "int": "a whole number",
    "bool": "true or false",
    "string": "text (quote it if it looks like a number or a date)",
    "list": "a list: [a, b] or one '- item' per line",
    "dict": "a mapping of `key: value` lines",
    "model": "a mapping of `key: value` lines",
    "time": 'a time like "10:00"',
}


def problem_from_error(
    doc: YamlDoc, model: type[BaseModel], prefix: tuple[PathPart, ...], error: Any
) -> Problem:
    """Turn one pydantic error into a Problem at the right line of the file."""
    path, line = doc.locate((*prefix, *error["loc"]))
    kind, loc = error["type"], tuple(error["loc"])
    if kind == "missing":
        message, expected = f"required key '{path[-1]}' is missing", f"add {path[-1]}:"
    elif kind == "extra_forbidden":
        message, expected = f"unknown key '{path[-1]}'", _valid_keys(model, loc)
    elif "; " in error["msg"]:
        message, _, expected = error["msg"].partition("; ")
    else:
        message = f"{error['msg']} (got {_show(error['input'])})"
        expected = next((v for k, v in EXPECTED.items() if kind.startswith(k)), "")
    return Problem(doc.file, line, dotted(path), message, expected)


def without_typo_echoes(errors: list[Any]) -> list[Any]:
    """Drop a `missing` key explained by a misspelt key beside it: one mistake, one problem."""
    typos = [
        (tuple(e["loc"][:-1]), str(e["loc"][-1]))
        for e in errors
        if e["type"] == "extra_forbidden" and e["loc"]
    ]

    def echo(error: Any) -> bool:
        if error["type"] != "missing" or not error["loc"]:
            return False
        parent = tuple(error["loc"][:-1])
        near = [key for where, key in typos if where == parent]
        return bool(difflib.get_close_matches(str(error["loc"][-1]), near, n=1))

    return [e for e in errors if not echo(e)]


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _valid_keys(model: type[BaseModel], loc: tuple[PathPart, ...]) -> str:
    """The keys allowed where an unknown key was found, with a guess at the intended one."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, str) and current is not None:
            info = current.model_fields.get(part)
            current = _model_in(info.annotation) if info else None
    if current is None:
        return "remove it or check its spelling"
    fields = list(current.model_fields)
    guess = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    hint = f"did you mean '{guess[0]}'? " if guess else ""
    return f"{hint}valid keys: {', '.join(fields)}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation such as `Target | None` or `list[SendSlot]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
