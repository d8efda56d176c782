"""population.csv (optional): residents per district and age band, from the 住民基本台帳.

Columns `district,ages,residents`; `ages` is an inclusive band such as `0-14` or `65-74`,
or open-ended such as `75-`. The dashboard divides registrations by these figures to show
who is not reached yet; `todoku config check` reports every problem in the file.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from bot.config.problems import Problem

FILE = "population.csv"
HEADER = ["district", "ages", "residents"]
BAND = re.compile(r"(\d{1,3})-(\d{1,3})?")


@dataclass(frozen=True, order=True)
class Band:
    """Ages `low` to `high` inclusive (`high` None: and older)."""

    low: int
    high: int | None

    @property
    def label(self) -> str:
        """「65〜74歳」, 「75歳以上」."""
        return f"{self.low}歳以上" if self.high is None else f"{self.low}〜{self.high}歳"

    def overlaps(self, other: Band) -> bool:
        """True when an age belongs to both bands."""
        top = self.high if self.high is not None else 10**6
        other_top = other.high if other.high is not None else 10**6
        return self.low <= other_top and other.low <= top


@dataclass(frozen=True)
class Population:
    """Residents per (district, band); bands in age order."""

    counts: dict[tuple[str, Band], int]
    bands: tuple[Band, ...]

    def district_total(self, district: str) -> int | None:
        """All residents of a district (None: the district is not in the file)."""
        found = [n for (d, _), n in self.counts.items() if d == district]
        return sum(found) if found else None

    def band_total(self, band: Band) -> int:
        """Residents in an age band over every district."""
        return sum(n for (_, b), n in self.counts.items() if b == band)


def _problem(line: int | None, key: str, message: str, expected: str) -> Problem:
    return Problem(FILE, line, key, message, expected)


def read_population(
    folder: str | Path, districts: tuple[str, ...] | list[str] | None
) -> tuple[Population | None, list[Problem]]:
    """The file's figures, or None when it is absent or has problems (all of them listed)."""
    path = Path(folder) / FILE
    if not path.exists():
        return None, []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None, [
            _problem(
                None,
                "",
                "the file cannot be read as UTF-8 text",
                "save it as UTF-8 (CSV UTF-8 in Excel)",
            )
        ]
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        return None, [
            _problem(1, "", "the first line must be the header", "write: district,ages,residents")
        ]
    problems: list[Problem] = []
    counts: dict[tuple[str, Band], int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            problems.append(
                _problem(line, "", f"{len(row)} columns", "3 columns: district,ages,residents")
            )
            continue
        district, ages, residents = (cell.strip() for cell in row)
        if districts is not None and district not in districts:
            problems.append(
                _problem(
                    line,
                    "district",
                    f"unknown district '{district}'",
                    f"one of municipality.districts: {', '.join(districts)}",
                )
            )
        match = BAND.fullmatch(ages)
        band = None
        if match:
            low, high = int(match[1]), (int(match[2]) if match[2] else None)
            band = Band(low, high) if high is None or high >= low else None
        if band is None:
            problems.append(
                _problem(
                    line,
                    "ages",
                    f"'{ages}' is not an age band",
                    "inclusive ages like 0-14 or 65-74, or 75- for 75 and older",
                )
            )
        if not residents.isdigit():
            problems.append(
                _problem(
                    line,
                    "residents",
                    f"'{residents}' is not a whole number",
                    "the number of residents, e.g. 1234",
                )
            )
        if band is None or not residents.isdigit():
            continue
        if (district, band) in counts:
            problems.append(
                _problem(
                    line, "", f"{district} {ages} is listed twice", "one line per district and band"
                )
            )
        counts[(district, band)] = int(residents)
    bands = tuple(sorted({band for _, band in counts}))
    for first, second in pairwise(bands):
        if first.overlaps(second):
            problems.append(
                _problem(
                    None,
                    "ages",
                    f"bands {first.label} and {second.label} overlap",
                    "each age in one band only, e.g. 0-14, 15-64, 65-74, 75-",
                )
            )
    if problems:
        return None, problems
    return Population(counts, bands), []
