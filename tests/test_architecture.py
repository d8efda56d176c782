"""The layout's rules, checked on the source: what each package may import, no circles.

docs/architecture.md describes the packages; each package's docstring says what it owns and
what it may import. These tests keep the two true as the code changes.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("bot", "segments", "messages", "linesim", "migrations")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, *, include_type_checking: bool = True) -> set[str]:
    """Every first-party module `path` imports (at any depth, lazy imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    if not include_type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in TOP_LEVEL or "." not in name}


def sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in TOP_LEVEL for p in sources(package)}


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an imported name lives in (a name imported from a package → the package)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


# segments/ builds SQL *expressions* (segments.sql) but never connects: no engine, no I/O.
PURE = {
    "segments": ("bot", "linesim", "flask", "requests", "psycopg", "socket", "os"),
    "messages": ("bot", "linesim", "sqlalchemy", "flask", "requests", "psycopg", "socket", "os"),
}


# The one exception: messages/texts.py reads its own package data, the .po catalogue, and
# caches what it read beside it (messages/catalogue/__pycache__, as Python caches byte-code).
ALLOWED = {("messages/texts.py", "os")}


@pytest.mark.parametrize("package", sorted(PURE))
def test_the_pure_core_does_no_io_and_never_imports_the_application(package):
    forbidden = PURE[package]
    offences = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sources(package)
        for name in imports_of(path)
        if (name.split(".")[0] in forbidden or name.startswith("sqlalchemy.engine"))
        and (str(path.relative_to(REPO)), name) not in ALLOWED
    ]
    assert offences == []


def test_linesim_never_imports_the_bot():
    offences = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sources("linesim")
        for name in imports_of(path)
        if name.split(".")[0] == "bot"
    ]
    assert offences == []


# What each bot package must never import (its docstring says what it may).
NEVER = {
    "bot.store": ("bot.line", "bot.registration", "bot.dispatch", "bot.admin", "messages", "flask"),
    "bot.config": ("bot.store", "bot.line", "bot.registration", "bot.dispatch", "bot.admin"),
    "bot.line": ("bot.store", "bot.registration", "bot.dispatch", "bot.admin"),
    "bot.registration": ("bot.dispatch", "bot.admin"),
    "bot.dispatch": ("bot.registration", "bot.admin"),
    "bot.residents": ("bot.line", "bot.registration", "bot.dispatch", "bot.admin", "flask"),
    "bot.web": ("bot.store", "bot.dispatch", "bot.admin"),
}


@pytest.mark.parametrize("package", sorted(NEVER))
def test_each_package_imports_only_what_its_docstring_allows(package):
    root = REPO / package.replace(".", "/")
    offences = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted(root.rglob("*.py"))
        for name in imports_of(path)
        if any(name == bad or name.startswith(bad + ".") for bad in NEVER[package])
    ]
    assert offences == []


def test_every_bot_package_says_what_it_owns_and_may_import():
    for init in sorted((REPO / "bot").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc or "may import" in doc, init.relative_to(REPO)


def test_at_most_a_dozen_modules_live_directly_in_bot():
    direct = [p.name for p in (REPO / "bot").glob("*.py") if p.name not in ("__init__.py",)]
    assert len(direct) <= 12, sorted(direct)


def test_no_import_circles_between_modules():
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for imported in imports_of(path, include_type_checking=False):
            target = resolve(imported, known)
            # A package's __init__ re-exporting its own modules is not a circle of design.
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" → ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for start in sorted(known):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_test_modules_never_import_each_other():
    """Shared set-up lives in fixtures (conftest) or helper modules, never in a test module."""
    offences = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "tests").rglob("test_*.py"))
        for name in imports_of(path)
        if name.startswith("tests.") and any(p.startswith("test_") for p in name.split("."))
    ]
    assert offences == []


# --- One home for SQL: statements are built in bot/store/ only --------------------------------
#
# Outside bot/store/ the application may name SQLAlchemy's connection and session types and
# catch its exceptions; every statement (select, insert, update, delete, text, func, ...) is
# a named function in bot/store/queries.py, dashboard_queries.py or import_queries.py (the
# JSONL import's bulk inserts, COPY and PRAGMAs). segments/sql.py compiles the rule language
# to expressions and is outside bot/ (the pure core's own rule).
SQLALCHEMY_TYPES = {"Engine", "Connection", "Session", "sessionmaker"}
SQLALCHEMY_EXCEPTIONS = ("sqlalchemy.exc", "sqlalchemy.orm.exc")
# Methods that only a statement (or a legacy ORM query) has: building one outside the store.
STATEMENT_METHODS = {"where", "returning", "filter", "filter_by", "query", "exec_driver_sql"}


def sql_builders_in(path: Path) -> list[str]:
    """What in `path` builds SQL: SQLAlchemy names beyond the types, statement methods."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            if node.module in SQLALCHEMY_EXCEPTIONS:
                continue
            found += [
                f"{node.module}.{a.name}" for a in node.names if a.name not in SQLALCHEMY_TYPES
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in STATEMENT_METHODS
        ):
            found.append(f".{node.func.attr}() on line {node.lineno}")
    return found


def test_sql_statements_are_built_only_in_the_store():
    offences = [
        f"{path.relative_to(REPO)}: {what}"
        for path in sources("bot")
        if not path.relative_to(REPO).as_posix().startswith("bot/store/")
        for what in sql_builders_in(path)
    ]
    assert offences == []


def test_the_sql_rule_sees_a_statement_built_outside_the_store(tmp_path):
    """The rule's own check: each kind of offence is found."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import sqlalchemy\n"
        "from sqlalchemy import Engine, select\n"
        "from sqlalchemy.exc import IntegrityError\n"
        "from sqlalchemy.orm import Session\n"
        "session.scalars(query.where(x))\n"
    )
    assert sql_builders_in(sample) == ["sqlalchemy", "sqlalchemy.select", ".where() on line 5"]


def test_every_named_query_says_why_it_is_shaped_so():
    """Each public function of the store's query modules has a docstring."""
    missing = []
    for module in ("queries", "dashboard_queries", "import_queries"):
        path = REPO / "bot" / "store" / f"{module}.py"
        for node in ast.parse(path.read_text()).body:
            public = isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
            if public and not ast.get_docstring(node):
                missing.append(f"{module}.{node.name}")
    assert missing == []


# --- Thin CLI: only bot/cli.py talks to the terminal --------------------------------------
#
# Services return data (dataclasses, counts, lines); bot/cli.py formats and prints them and
# turns them into exit codes. Processes report through structured logs (bot.logs), never
# print. (The JSONL import's worker writes its results to a pipe, not to a terminal.)
PRINTING_ALLOWED = {"bot/cli.py"}


def terminal_output_in(path: Path) -> list[str]:
    """Calls of print(), click.echo()/secho() in `path`, with their line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "click":
            found += [f"from click import {a.name}" for a in node.names if "echo" in a.name]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            found.append(f"print() on line {node.lineno}")
        elif isinstance(func, ast.Attribute) and ast.unparse(func) in ("click.echo", "click.secho"):
            found.append(f"{ast.unparse(func)}() on line {node.lineno}")
    return found


def test_only_the_cli_prints():
    offences = [
        f"{path.relative_to(REPO)}: {what}"
        for path in sources("bot")
        if path.relative_to(REPO).as_posix() not in PRINTING_ALLOWED
        for what in terminal_output_in(path)
    ]
    assert offences == []


def test_the_printing_rule_sees_print_and_echo(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("print('x')\nclick.echo('y')\nlog.info('z')\nfrom click import secho\n")
    assert sorted(terminal_output_in(sample)) == [
        "click.echo() on line 2",
        "from click import secho",
        "print() on line 1",
    ]
