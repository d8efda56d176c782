"""Read one YAML file safely into plain Python values plus a map from key path to line.

PyYAML's loaders forget where a value came from and silently keep the last of two equal
keys, so we compose the node tree ourselves (safe resolver, no Python tags) and build
the values, remembering each path's line and reporting duplicate keys as problems.
libyaml composes well-formed files; whatever is wrong is worded by the pure-Python reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.config.problems import PathPart, Problem, dotted

# Deeper nesting than this is never a real configuration; stopping early keeps a hostile
# file from exhausting the stack.
MAX_DEPTH = 40
_INT = "tag:yaml.org,2002:int"
_PLAIN = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_FLOAT = "tag:yaml.org,2002:float"


class _Stop(Exception):
    """A problem that makes the rest of the file unreadable."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class YamlDoc:
    """A file's values and the line (1-based) where each key path starts."""

    file: str
    data: Any = None
    readable: bool = True  # False: missing or not YAML, so other files cannot rely on it
    lines: dict[tuple[PathPart, ...], int] = field(default_factory=dict)

    def line_of(self, path: Sequence[PathPart]) -> int | None:
        """The line of the longest prefix of `path` present in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def locate(self, loc: Iterable[PathPart]) -> tuple[tuple[PathPart, ...], int | None]:
        """Turn a validation `loc` into a real key path (and its line) in this file."""
        loc = tuple(loc)
        path: list[PathPart] = []
        node = self.data
        for index, part in enumerate(loc):
            if _has(node, part):
                node = node[part]
                path.append(part)
            elif index == len(loc) - 1:
                path.append(part)  # a missing key: name it, point at its parent's line
            # else: a validator's label that is not in the document (e.g. a union tag)
        return tuple(path), self.line_of(path)


def _has(node: Any, part: PathPart) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    if isinstance(node, list):
        return isinstance(part, int) and not isinstance(part, bool) and 0 <= part < len(node)
    return False


def read_yaml(path: Path) -> tuple[YamlDoc, list[Problem]]:
    """Read `path`; every problem (missing file, syntax, duplicate key) comes back as data."""
    doc = YamlDoc(file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        doc.readable = False
        return doc, [Problem(doc.file, None, "", "file is missing", f"create {path.name}")]
    except (OSError, UnicodeDecodeError) as exc:
        doc.readable = False
        return doc, [Problem(doc.file, None, "", f"cannot read the file ({exc})", _UTF8_HINT)]
    problems: list[Problem] = []
    fatal = _parse(doc, text, problems)
    if fatal is not None:
        doc.readable, doc.data = False, None
        problems.append(fatal)
    return doc, problems


def _parse(doc: YamlDoc, text: str, problems: list[Problem]) -> Problem | None:
    """Fill `doc` from `text`; the problem that stopped reading, if any."""
    try:
        loader, node = _compose(text)
    except yaml.reader.ReaderError as exc:  # a control character, found before parsing
        line = text.count("\n", 0, exc.position) + 1
        return Problem(doc.file, line, "", f"character {exc.character!r} is not allowed", _CHARS)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        return Problem(doc.file, line, "", f"YAML syntax error: {what}", _SYNTAX_HINT)
    except yaml.YAMLError as exc:
        return Problem(doc.file, None, "", f"YAML syntax error: {exc}", _SYNTAX_HINT)
    except RecursionError:
        return Problem(doc.file, None, "", "the file is nested too deeply", _SYNTAX_HINT)
    try:
        if node is not None:
            doc.data = _Builder(doc, loader, problems).build(node, ())
    except _Stop as stop:
        return stop.problem
    finally:
        loader.dispose()
    return None


def _compose(text: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """The loader of `text` and its node tree (None: an empty file)."""
    fast = _compose_fast(text)
    if fast is not None:
        return fast
    loader = yaml.SafeLoader(text)  # reads the whole text: ReaderError before any parsing
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


def _compose_fast(text: str) -> tuple[yaml.SafeLoader, yaml.Node | None] | None:
    """The loader and node tree of `text` from libyaml, or None: then the pure-Python loader
    reads it (and words whatever is wrong with it).

    libyaml (PyYAML's C parser) reads faster: the shipped configuration's three files
    took 68 ms with the pure reader and take 12 ms (values built, events counted), which
    every process start and every reload pays. But it is not the same reader:
    - its composer recurses in C: a file nested some 100,000 levels deep crashes the
      process. Its event parser does not recurse, so the events are looked at first, and
      a file deeper than MAX_DEPTH goes to the pure reader;
    - it accepts some things the pure reader refuses (tabs as spaces, `?` and `:` inside
      a flow collection's plain text, a comment glued to `|` or `>`) and reads tags
      differently. A file with any of those, or with anchors, aliases, directives or
      `---` (which the configuration never needs), goes to the pure reader, as does
      anything libyaml refuses: the pure reader says what is wrong, as it always did.
    The values are built from the nodes by the same code either way; tests compare the
    two readers on random files.
    """
    if _C_LOADER is None or _NON_PRINTABLE.search(text) or "\t" in text:
        return None
    if "\ufeff" in text[1:]:  # a byte order mark past the start: text to one, not the other
        return None
    try:
        depth = flow = 0
        for event in yaml.parse(text, Loader=_C_LOADER):
            if isinstance(event, _OPENS):
                depth += 1
                flow += bool(event.flow_style)
                if depth > MAX_DEPTH:
                    return None
            elif isinstance(event, _CLOSES):
                depth -= 1
                flow -= flow > 0  # inside a flow collection every collection is one
            if not _plain(event, text, flow):
                return None
        loader = _C_LOADER(text)
        return loader, loader.get_single_node()
    except (yaml.YAMLError, ValueError):  # UnicodeError is a ValueError
        return None


def _plain(event: yaml.Event, text: str, flow: int) -> bool:
    """Whether libyaml and the pure reader read this event alike (see `_compose_fast`)."""
    if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
        return False
    if getattr(event, "tag", None) is not None:
        return False
    if isinstance(event, yaml.DocumentStartEvent) and event.explicit:
        return False  # `---`, with or without directives
    if isinstance(event, yaml.ScalarEvent):
        if event.style in ("|", ">"):
            line_end = text.find("\n", event.start_mark.index)
            header = text[event.start_mark.index : None if line_end < 0 else line_end]
            return _BLOCK_HEADER.fullmatch(header.rstrip("\r")) is not None
        if not event.style and flow and any(c in event.value for c in "?:#"):
            return False
    return True


_C_LOADER = getattr(yaml, "CSafeLoader", None)  # None: PyYAML built without libyaml
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what the pure reader refuses
_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
# `|` or `>`, its indicators, then nothing but spaces and a comment after a space.
_BLOCK_HEADER = re.compile(r"[|>](?:[1-9][+-]?|[+-][1-9]?)?(?: +(?:#.*)?)?")
_SYNTAX_HINT = "check indentation, colons and quotes on this line and the one before"
_UTF8_HINT = "save it as UTF-8 text"
_CHARS = "delete it (it may have come from copying and pasting)"


class _Builder:
    """Builds Python values from composed nodes, recording lines and duplicate keys."""

    def __init__(self, doc: YamlDoc, loader: yaml.SafeLoader, problems: list[Problem]) -> None:
        self.doc, self.loader, self.problems = doc, loader, problems
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:
        """Build the value of `node` found at `path`."""
        line = node.start_mark.line + 1
        self.doc.lines.setdefault(path, line)
        refusal = self._refusal(node, path)
        if refusal is not None:
            raise _Stop(Problem(self.doc.file, line, dotted(path), *refusal))
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _refusal(self, node: yaml.Node, path: tuple[PathPart, ...]) -> tuple[str, str] | None:
        """Why this node cannot be read at all (message, what to do), if it cannot."""
        if len(path) > MAX_DEPTH:
            return "nested too deeply", f"at most {MAX_DEPTH} levels"
        if id(node) in self.seen:
            # Aliases (*name) reuse a node; expanding them invites exponential files.
            return "anchors and aliases (&name, *name) are not supported", "write the values out"
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN:
            return f"YAML tag {node.tag!r} is not supported", "remove the tag (the word with !)"
        return None

    def _mapping(self, node: yaml.MappingNode, path: tuple[PathPart, ...]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Stop(
                    Problem(
                        self.doc.file,
                        line,
                        dotted(path),
                        "a key must be a plain word",
                        "write `key: value`",
                    )
                )
            # The key's text, not its YAML 1.1 value: `on:` (a rule option) would be True.
            key = str(key_node.value)
            if key in result:
                first = self.doc.lines.get((*path, key))
                self.problems.append(
                    Problem(
                        self.doc.file,
                        line,
                        dotted((*path, key)),
                        f"duplicate key '{key}' (first on line {first})",
                        "write each key once in a mapping",
                    )
                )
                continue
            self.doc.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:
        # YAML 1.1 reads 10:00 as the base-60 number 600; staff mean a time of day.
        if node.tag in (_INT, _FLOAT) and ":" in str(node.value):
            return str(node.value)
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            line = node.start_mark.line + 1
            # The problem alone: the line is the Problem's, and the mark's excerpt of the
            # file is there only when the pure reader composed it.
            why = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else exc
            self.problems.append(
                Problem(
                    self.doc.file,
                    line,
                    dotted(path),
                    f"cannot read value {str(node.value)[:40]!r} ({why})",
                    "write plain text, a number, a date or true/false",
                )
            )
            return None
