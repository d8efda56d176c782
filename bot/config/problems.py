"""Problems found in the staff configuration, as data, and their human and JSON forms."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from bot.errors import TodokuError

# The order staff read the files in; problems are listed file by file, then by line.
FILES: tuple[str, ...] = ("municipality.yaml", "programs.yaml", "campaigns.yaml")

PathPart = str | int


@dataclass(frozen=True)
class Problem:
    """One mistake in one file: where it is, what is wrong and what would be valid."""

    file: str
    line: int | None
    key: str
    message: str
    expected: str = ""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where, self.key, self.message] if self.key else [where, self.message]
        text = ": ".join(parts)
        return f"{text}; {self.expected}" if self.expected else text


class ConfigError(TodokuError):
    """The configuration is invalid; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(format_problems(self.problems))


def dotted(path: Iterable[PathPart]) -> str:
    """Spell a key path the way staff see it: ``programs[3].period.closes``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Order problems like a compiler: file by file, then by line."""

    def order(problem: Problem) -> tuple[int, int]:
        name = problem.file.replace("\\", "/").rsplit("/", 1)[-1]
        rank = FILES.index(name) if name in FILES else len(FILES)
        return rank, problem.line or 0

    return sorted(problems, key=order)


def format_problems(problems: Iterable[Problem]) -> str:
    """One line per problem, followed by a count, for stderr and logs."""
    lines = [str(problem) for problem in problems]
    count = len(lines)
    lines.append(f"{count} problem{'s' if count != 1 else ''} in the configuration")
    return "\n".join(lines)


def problems_json(problems: Iterable[Problem]) -> str:
    """The machine-readable report: ``{"ok": bool, "problems": [{file, line, ...}]}``."""
    items = [asdict(problem) for problem in problems]
    return json.dumps({"ok": not items, "problems": items}, ensure_ascii=False, indent=2)
