"""Synthetic residents for the segment benchmark: a Murayama-like population as JSON Lines.

Shape (Murayama City: about 40% aged 65 and over, eight districts):
* adults 16–100, 40% aged 65+, an old age pyramid;
* children in about a fifth of households (1–4 children, ages fitting the parent);
* each answer skipped with probability 10% (independently), births on 29 February included;
* optionally (`family_share`, e.g. 0.2 for the issue's 20 %), accounts holding a family
  profile (代理受信): mostly an elderly parent or grandparent, now and then two of them.
  The profiles come from a second random stream, so the accounts are the same ones
  whatever the share.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path

DISTRICTS = ["楯岡", "西郷", "大久保", "冨本", "戸沢", "袖崎", "大倉", "富並"]
DISTRICT_WEIGHTS = [38, 12, 12, 10, 8, 7, 6, 7]
TOPICS = ["子育て", "高齢者", "健康・福祉", "住まい", "仕事・産業", "防災", "イベント"]
# (lowest age, highest age, share of residents): 40% are 65 or older.
AGE_BANDS = [(16, 29, 10), (30, 39, 10), (40, 49, 12), (50, 64, 28), (65, 74, 21), (75, 100, 19)]
SKIP = 0.10


def _birth(rng: random.Random, age: int, today: dt.date) -> dt.date:
    return today - dt.timedelta(days=age * 365 + rng.randrange(365))


def _children(rng: random.Random, age: int, today: dt.date) -> list[dict]:
    # About a fifth of all households: 45% of residents aged 22–55 have children at home.
    if not 22 <= age <= 55 or rng.random() > 0.45:
        return []
    count = rng.choices([1, 2, 3, 4], [40, 40, 15, 5])[0]
    oldest = min(age - 20, 22)
    return [
        {"birth_date": _birth(rng, rng.randint(0, oldest), today).isoformat()} for _ in range(count)
    ]


def _interests(rng: random.Random, age: int, has_children: bool) -> list[str]:
    chances = dict.fromkeys(TOPICS, 0.2)
    chances["高齢者"] = 0.6 if age >= 60 else 0.05
    chances["子育て"] = 0.7 if has_children else 0.05
    return [t for t in TOPICS if rng.random() < chances[t]]


def resident(rng: random.Random, today: dt.date) -> dict:
    """One resident line (contracts.md), with about 10% of each answer skipped."""
    low, high, _ = rng.choices(AGE_BANDS, [b[2] for b in AGE_BANDS])[0]
    age = rng.randint(low, high)
    children = _children(rng, age, today)
    partner = rng.random() < (0.5 if age >= 75 else 0.7)
    single_parent = bool(children) and not partner and rng.random() < 0.6
    line = {
        "line_user_id": f"U{rng.getrandbits(128):032x}",
        "birth_date": _birth(rng, age, today).isoformat(),
        "district": rng.choices(DISTRICTS, DISTRICT_WEIGHTS)[0],
        "household_size": 1 + partner + len(children) + (rng.random() < 0.15),
        "pregnant": 20 <= age <= 44 and rng.random() < 0.03,
        "single_parent": single_parent,
        "children": children,
        "interests": _interests(rng, age, bool(children)),
    }
    for key in ("birth_date", "district", "household_size", "pregnant", "single_parent"):
        if rng.random() < SKIP:
            line[key] = None
    if rng.random() < SKIP:
        line["children"] = None
    return line


# (label, lowest age, highest age, weight): who residents register as family.
FAMILY = [
    ("母", 65, 100, 40),
    ("父", 65, 100, 30),
    ("祖母", 85, 105, 10),
    ("祖父", 85, 105, 8),
    ("おば", 60, 95, 4),
    ("ハナコ", 70, 100, 8),
]


def family_member(rng: random.Random, today: dt.date, taken: set[str]) -> dict:
    """One family profile line (contracts.md): an older relative, answers like a resident's."""
    choices = [f for f in FAMILY if f[0] not in taken]
    label, low, high, _ = rng.choices(choices, [f[3] for f in choices])[0]
    age = min(rng.randint(low, high), 110)
    member = {
        "label": label,
        "birth_date": _birth(rng, age, today).isoformat(),
        "district": rng.choices(DISTRICTS, DISTRICT_WEIGHTS)[0],
        "household_size": rng.choice([1, 1, 2, 2, 3]),
        "children": [],
        "interests": _interests(rng, age, False),
    }
    for key in ("birth_date", "district", "household_size"):
        if rng.random() < SKIP:
            member[key] = None
    return member


def residents(
    count: int, today: dt.date, seed: int = 2026, family_share: float = 0.0
) -> Iterator[dict]:
    """`count` residents, the same ones for the same seed; `family_share` of the accounts
    hold one family profile (a tenth of those two)."""
    rng = random.Random(seed)
    family_rng = random.Random(seed + 1)
    for _ in range(count):
        line = resident(rng, today)
        if family_share and family_rng.random() < family_share:
            members: list[dict] = []
            for _ in range(2 if family_rng.random() < 0.1 else 1):
                members.append(family_member(family_rng, today, {m["label"] for m in members}))
            line["family"] = members
        yield line


def write_jsonl(path: Path, count: int, today: dt.date, family_share: float = 0.0) -> None:
    """Write `count` residents to `path`, one JSON object per line."""
    with path.open("w", encoding="utf-8") as f:
        for line in residents(count, today, family_share=family_share):
            f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
