"""LINE action objects (postback, uri, message, datetime picker, ...) and their limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from linesim.graphemes import grapheme_count


@dataclass(frozen=True)
class Problem:
    """One validation problem, as LINE reports it in `details`."""

    property: str
    message: str

    def as_detail(self) -> dict:
        """LINE's `{"message", "property"}` detail object."""
        return {"message": self.message, "property": self.property}


ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
)
URI_SCHEMES = ("http", "https", "line", "tel")
URI_MAX = 10_000  # raised from 1,000 on 2026-10-27 (SDK 3.27.0 agrees)
DATA_MAX = 300
PICKER_FORMATS = {
    "date": ("%Y-%m-%d", re.compile(r"^\d{4}-\d{2}-\d{2}$")),
    "time": ("%H:%M", re.compile(r"^\d{2}:\d{2}$")),
    "datetime": ("%Y-%m-%dT%H:%M", re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}$")),
}
PICKER_LOW = datetime(1900, 1, 1, 0, 0)
PICKER_HIGH = datetime(2100, 12, 31, 23, 59)


def text_length(value: str) -> int:
    """Length in UTF-16 code units, which is how LINE counts message text."""
    return len(value.encode("utf-16-le")) // 2


def check_length(
    problems,
    path: str,
    value,
    maximum: int,
    *,
    required=False,
    minimum=0,
    utf16=False,
    graphemes=False,
):
    """Append a problem if `value` is missing (when required), not a string or too long."""
    if value is None:
        if required:
            problems.append(Problem(path, "must be specified"))
        return
    if not isinstance(value, str):
        problems.append(Problem(path, "must be a string"))
        return
    # LINE counts message text in UTF-16 units and labels, action and template texts in
    # grapheme clusters (developers.line.biz "text-character-count"); other fields
    # (ids, data, URIs) are plain characters, as the SDK's own models count them.
    if utf16:
        length = text_length(value)
    elif graphemes:
        length = grapheme_count(value)
    else:
        length = len(value)
    if not minimum <= length <= maximum:
        problems.append(Problem(path, f"Length must be between {minimum} and {maximum}"))


def validate_action(
    action,
    path: str,
    *,
    label_max: int,
    label_required: bool,
    allowed: tuple[str, ...] = ACTION_TYPES,
) -> list[Problem]:
    """Problems with one action object; `label_max` depends on where the action sits."""
    if not isinstance(action, dict):
        return [Problem(path, "must be an object")]
    kind = action.get("type")
    if kind not in allowed:
        return [Problem(f"{path}.type", f"must be one of [{', '.join(allowed)}]")]
    problems: list[Problem] = []
    check_length(
        problems,
        f"{path}.label",
        action.get("label"),
        label_max,
        required=label_required,
        minimum=1 if label_required else 0,
        graphemes=True,
    )
    CHECKS.get(kind, lambda a, p, out: None)(action, path, problems)
    return problems


def _postback(action, path, problems):
    check_length(problems, f"{path}.data", action.get("data"), DATA_MAX, required=True)
    for key in ("displayText", "text", "fillInText"):
        check_length(problems, f"{path}.{key}", action.get(key), DATA_MAX, graphemes=True)
    if action.get("displayText") is not None and action.get("text") is not None:
        problems.append(Problem(f"{path}.text", "cannot be used with displayText"))
    option = action.get("inputOption")
    if option is not None and option not in (
        "closeRichMenu",
        "openRichMenu",
        "openKeyboard",
        "openVoice",
    ):
        problems.append(Problem(f"{path}.inputOption", "invalid inputOption"))


def _message(action, path, problems):
    check_length(
        problems,
        f"{path}.text",
        action.get("text"),
        DATA_MAX,
        required=True,
        minimum=1,
        graphemes=True,
    )


def check_uri(problems, path: str, uri, *, required=True) -> None:
    """A URI action target: ≤10,000 characters, scheme http/https/line/tel."""
    check_length(problems, path, uri, URI_MAX, required=required, minimum=1)
    if isinstance(uri, str) and uri:
        scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
        if scheme not in URI_SCHEMES:
            problems.append(Problem(path, "invalid uri scheme"))


def _uri(action, path, problems):
    check_uri(problems, f"{path}.uri", action.get("uri"))
    alt = action.get("altUri")
    if isinstance(alt, dict):
        check_uri(problems, f"{path}.altUri.desktop", alt.get("desktop"))


def _picker(action, path, problems):
    check_length(problems, f"{path}.data", action.get("data"), DATA_MAX, required=True)
    mode = action.get("mode")
    if mode not in PICKER_FORMATS:
        problems.append(Problem(f"{path}.mode", "must be one of [date, time, datetime]"))
        return
    fmt, pattern = PICKER_FORMATS[mode]
    values = {}
    for key in ("initial", "min", "max"):
        raw = action.get(key)
        if raw is None:
            continue
        try:
            if not isinstance(raw, str) or not pattern.match(raw):
                raise ValueError(raw)
            value = datetime.strptime(raw.replace("t", "T"), fmt)
        except ValueError:
            problems.append(Problem(f"{path}.{key}", f"invalid {mode} format"))
            continue
        if mode != "time" and not PICKER_LOW <= value <= PICKER_HIGH:
            problems.append(Problem(f"{path}.{key}", "must be between 1900-01-01 and 2100-12-31"))
        values[key] = value
    low, high, initial = values.get("min"), values.get("max"), values.get("initial")
    if low and high and low > high:
        problems.append(Problem(f"{path}.min", "must be less than or equal to max"))
    if initial and ((low and initial < low) or (high and initial > high)):
        problems.append(Problem(f"{path}.initial", "must be between min and max"))


def _clipboard(action, path, problems):
    check_length(
        problems,
        f"{path}.clipboardText",
        action.get("clipboardText"),
        1000,
        required=True,
        minimum=1,
    )


def _richmenuswitch(action, path, problems):
    check_length(problems, f"{path}.data", action.get("data"), DATA_MAX, required=True)
    check_length(
        problems,
        f"{path}.richMenuAliasId",
        action.get("richMenuAliasId"),
        32,
        required=True,
        minimum=1,
    )


CHECKS = {
    "postback": _postback,
    "message": _message,
    "uri": _uri,
    "datetimepicker": _picker,
    "clipboard": _clipboard,
    "richmenuswitch": _richmenuswitch,
}
