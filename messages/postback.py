"""Postback data: a short query string the bot writes into buttons and reads back.

Fields: `a` action, `q` question (step), `v` value, `t` step token, `w` whose (a family
profile's label; absent for the account holder). The token names the question a button
was shown with, so a tap on an old message can be told apart.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

FIELDS = ("a", "q", "v", "t", "w")
MAX_DATA = 300  # LINE's limit for postback data


def encode(
    action: str,
    *,
    q: str | None = None,
    v: str | None = None,
    t: int | None = None,
    w: str | None = None,
) -> str:
    """Postback data for an action, e.g. `a=ans&q=district&v=楯岡&t=3`."""
    fields = {"a": action, "q": q, "v": v, "t": t, "w": w or None}
    data = urlencode({k: str(val) for k, val in fields.items() if val is not None})
    if len(data) > MAX_DATA:
        raise ValueError(f"postback data longer than {MAX_DATA} characters")
    return data


def decode(data: str | None) -> dict[str, str]:
    """The fields of postback data; unknown or malformed parts are dropped."""
    try:
        pairs = parse_qsl(data or "", keep_blank_values=False, max_num_fields=len(FIELDS))
    except ValueError:
        return {}
    return {k: v for k, v in pairs if k in FIELDS}
