"""Reading a residents file: validate each line, build the rows, a chunk at a time.

Pure apart from reading the file: no database. ``chunks`` can run in this process or,
for large files, in a worker process (``chunks_in_worker``) while this one writes.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from segments.calendar import earliest_birth, earliest_child_birth

BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class Chunk:
    """Valid lines as rows, and the problems of the lines read with them.

    Dates travel as ISO strings ("YYYY-MM-DD", normalised by ``date.isoformat``): they
    pickle five times faster than ``date`` objects between the processes (measured), and
    are SQLite's storage format already. Children and interests name their resident by
    its index in ``residents``; the writer maps it to the id.
    """

    numbers: list[int] = field(default_factory=list)  # line number of each resident
    residents: list[tuple] = field(default_factory=list)  # see RESIDENT_KEYS
    children: list[tuple[int, str]] = field(default_factory=list)  # (index, birth date)
    interests: list[tuple[int, str]] = field(default_factory=list)  # (index, topic)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    # Family profiles (代理受信): rows as in PROFILE_KEYS, the first field the index of
    # their account in ``residents``; their children and interests name them by index here.
    profiles: list[tuple] = field(default_factory=list)
    profile_children: list[tuple[int, str]] = field(default_factory=list)
    profile_interests: list[tuple[int, str]] = field(default_factory=list)


# Each resident row: these columns in this order. followed_at, consented_at and
# registered_at are the import's moment, added by the writer.
RESIDENT_KEYS = (
    "line_user_id",
    "birth_date",
    "district",
    "household_size",
    "pregnant",
    "single_parent",
    "children_answered",
)
# Each family profile row: its account (an index into the chunk's residents, mapped to
# guardian_id by the writer), its label, then the answers as for a resident.
PROFILE_KEYS = ("guardian_id", "label", *RESIDENT_KEYS[1:])
MAX_FAMILY = 5  # family profiles per account, as in the chat (messages.family)
LABEL_MAX = 10


def line_type(districts: list[str], topics: list[str], today: dt.date) -> TypeAdapter:
    """A validator for one line; Literal choices and date bounds keep the whole check inside
    pydantic-core. Strict: `true` or `2.0` is no household size, `"yes"` no answer; dates
    are ISO strings between the dialog's bounds (120 years ago, at most 1900; today)."""
    District = Literal[tuple(districts)] if districts else str
    Topic = Literal[tuple(topics)] if topics else str
    closed = ConfigDict(extra="forbid", strict=True)
    Birth = Annotated[dt.date, Field(ge=earliest_birth(today), le=today)]

    class Child(TypedDict):
        __pydantic_config__ = closed  # type: ignore[misc]
        birth_date: Birth  # type: ignore[valid-type]

    class Answers(TypedDict):
        """The dialog's answers, the same for a resident and a family profile."""

        birth_date: NotRequired[Birth | None]  # type: ignore[valid-type]
        district: NotRequired[District | None]  # type: ignore[valid-type]
        household_size: NotRequired[Annotated[int, Field(ge=1, le=99)] | None]
        pregnant: NotRequired[bool | None]
        single_parent: NotRequired[bool | None]
        children: NotRequired[Annotated[list[Child], Field(max_length=20)] | None]
        interests: NotRequired[list[Topic]]  # type: ignore[valid-type]

    # What names a line or a profile comes before the answers (a base of its own): pydantic
    # reports a line's problems in field order, and the name stays first.
    class Labelled(TypedDict):
        label: Annotated[
            str,
            StringConstraints(
                min_length=1, max_length=LABEL_MAX, pattern=r"^[^\s]([^\r\n\t]*[^\s])?$"
            ),
        ]

    class Account(TypedDict):
        line_user_id: Annotated[str, StringConstraints(pattern=r"^U[0-9a-f]{32}$")]

    class Family(Labelled, Answers):
        """A family profile: a label (as the chat asks it) and the same answers."""

        __pydantic_config__ = closed  # type: ignore[misc]

    class Line(Account, Answers):
        __pydantic_config__ = closed  # type: ignore[misc]
        family: NotRequired[Annotated[list[Family], Field(max_length=MAX_FAMILY)]]

    return TypeAdapter(Line)


def describe(error: ValidationError) -> str:
    """Pydantic's errors as one readable message: ``where: what; where: what``."""
    parts = []
    for e in error.errors(include_url=False):
        where = ".".join(map(str, e["loc"]))
        parts.append(f"{where}: {e['msg']}" if where else e["msg"])
    return "; ".join(parts)


def chunks(
    path: Path, districts: list[str], topics: list[str], size: int, today: dt.date
) -> Iterator[Chunk]:
    """The file's lines in chunks of up to `size` valid ones; duplicates are problems.

    `today`: the import's local date, the upper bound of birth dates. A UTF-8 byte order
    mark (as Windows editors write) is skipped.
    """
    validate = line_type(districts, topics, today).validate_json
    first_line: dict[str, int] = {}
    chunk = Chunk()
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if not raw.strip():
                continue
            try:
                line = validate(raw)
            except ValidationError as error:
                chunk.problems.append((number, f"line {number}: {describe(error)}"))
                continue
            user = line["line_user_id"]
            if (first := first_line.setdefault(user, number)) != number:
                message = f"line {number}: line_user_id {user} is also on line {first}"
                chunk.problems.append((number, message))
                continue
            if problem := _family_problem(line, today) or _too_early(line, today):
                chunk.problems.append((number, f"line {number}: {problem}"))
                continue
            _add(chunk, number, line)
            if len(chunk.numbers) >= size:
                yield chunk
                chunk = Chunk()
    yield chunk


def _child_too_early(line: dict, today: dt.date) -> str | None:
    """The dialog's rule: no child born before the parent was 12 (the dates stay unsaid)."""
    if not (line.get("children") and line.get("birth_date")):
        return None
    earliest = earliest_child_birth(today, line["birth_date"])
    for i, child in enumerate(line["children"]):
        if child["birth_date"] < earliest:
            return f"children.{i}.birth_date: before the parent (birth_date) was 12"
    return None


def _too_early(line: dict, today: dt.date) -> str | None:
    """_child_too_early for the line and for each of its family profiles."""
    if problem := _child_too_early(line, today):
        return problem
    for n, member in enumerate(line.get("family", ())):
        if problem := _child_too_early(member, today):
            return f"family.{n}.{problem}"
    return None


def _family_problem(line: dict, today: dt.date) -> str | None:
    """Two family profiles of one account may not share a label (the chat refuses it)."""
    labels = [member["label"] for member in line.get("family", ())]
    for n, label in enumerate(labels):
        if label in labels[:n]:
            return f"family.{n}.label: the label is used twice on this line"
    return None


def _add(chunk: Chunk, number: int, line: dict) -> None:
    """Append one valid line's rows, with contracts.md's defaults for left-out keys."""
    index = len(chunk.numbers)
    children = line.get("children", [])
    if children:
        chunk.children += [(index, c["birth_date"].isoformat()) for c in children]
    if topics := line.get("interests"):
        chunk.interests += [(index, t) for t in sorted(set(topics))]  # the key is (id, topic)
    chunk.numbers.append(number)
    chunk.residents.append((line["line_user_id"], *_answers(line)))
    for member in line.get("family", ()):
        profile = len(chunk.profiles)
        if kids := member.get("children"):
            chunk.profile_children += [(profile, c["birth_date"].isoformat()) for c in kids]
        if topics := member.get("interests"):
            chunk.profile_interests += [(profile, t) for t in sorted(set(topics))]
        chunk.profiles.append((index, member["label"], *_answers(member)))


def _answers(line: dict) -> tuple:
    """The answer columns of RESIDENT_KEYS after line_user_id, with the defaults."""
    children = line.get("children", [])
    birth = line.get("birth_date")
    return (
        birth and birth.isoformat(),
        line.get("district"),
        line.get("household_size", 1 + len(children or ())),
        line.get("pregnant", False),
        line.get("single_parent", False),
        children is not None,
    )


def chunks_in_worker(
    path: Path, districts: list[str], topics: list[str], size: int, today: dt.date
) -> Iterator[Chunk]:
    """``chunks``, computed in a worker process, so validating overlaps writing.

    The worker is a fresh, isolated interpreter importing this module from this checkout:
    not a fork (the parent holds database connections, maybe threads) nor a
    multiprocessing spawn (that re-runs the caller's main module, which breaks scripts
    without a ``__main__`` guard). Chunks come back pickled through its stdout; a write
    waits for the reader, so the worker stays a chunk or so ahead and the file is never
    all in memory.
    """
    job = json.dumps([str(path), districts, topics, size, today.isoformat()])
    root = str(Path(__file__).resolve().parent.parent)  # where `bot` is importable from
    # stderr to a file, not a pipe: nobody reads it until the end, and a full pipe would
    # stop the worker.
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            [sys.executable, "-I", "-c", WORKER, root, job], stdout=subprocess.PIPE, stderr=errors
        ) as worker,
    ):
        try:
            while (item := _receive(worker, errors)) is not None:
                yield item
        finally:
            worker.kill()  # done, or the writer stopped early: either way, no more lines


# The worker's program: argv[1] is the checkout's root, argv[2] the job.
WORKER = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import bot.residents.import_lines as lines; lines.work(sys.argv[2])"
)


def _receive(worker: subprocess.Popen, errors: IO[bytes]) -> Chunk | None:
    try:
        return pickle.load(worker.stdout)  # type: ignore[arg-type]
    except EOFError:
        worker.wait()
        errors.seek(0)
        message = errors.read().decode(errors="replace")
        raise RuntimeError(f"residents import: the reading process failed:\n{message}") from None


def work(job: str) -> None:
    """The worker process: each chunk of the job's file pickled to stdout, then None."""
    path, districts, topics, size, today = json.loads(job)
    out = sys.stdout.buffer
    for chunk in chunks(Path(path), districts, topics, size, dt.date.fromisoformat(today)):
        pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
    pickle.dump(None, out)
    out.flush()
