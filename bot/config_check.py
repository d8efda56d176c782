"""Check the three configuration files together and report every problem at once."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from bot.config_bundle import Config, slot_moment
from bot.config_models import Campaign, MunicipalityFile, Program
from bot.config_problems import PathPart, Problem, dotted, sort_problems
from bot.config_yaml import YamlDoc, read_yaml

M = TypeVar("M", bound=BaseModel)

# What a value of a given pydantic error type should look like, in staff's terms.
_EXPECTED = {
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


@dataclass
class Checker:
    """One run over a configuration folder, collecting problems as it goes."""

    folder: Path
    problems: list[Problem] = field(default_factory=list)

    def read(self, name: str) -> YamlDoc:
        """Read one file, keeping its syntax problems."""
        doc, problems = read_yaml(self.folder / name)
        self.problems.extend(problems)
        return doc

    def validate(
        self,
        model: type[M],
        doc: YamlDoc,
        prefix: tuple[PathPart, ...],
        data: Any,
        context: dict[str, Any],
    ) -> M | None:
        """`model` built from `data`, or None after recording each error with its line."""
        try:
            return model.model_validate(data, context=context)
        except ValidationError as exc:
            for error in _without_typo_echoes(exc.errors(include_url=False)):
                self.problems.append(_problem(doc, model, prefix, error))
            return None

    def section(self, doc: YamlDoc, name: str) -> list[Any]:
        """The list under the file's single top-level key (e.g. `programs`)."""
        data = doc.data
        if doc.readable and not isinstance(data, dict):
            self.add(
                doc,
                (),
                f"the file must start with `{name}:`",
                f"write {name}: followed by one '- id: ...' entry per item",
            )
        if not isinstance(data, dict):
            return []
        for key in data:
            if key != name:
                self.add(doc, (key,), f"unknown key '{key}'", f"the only top-level key is {name}")
        items = data.get(name)
        if name not in data:
            self.add(doc, (name,), f"required key '{name}' is missing", f"add {name}:")
        elif not isinstance(items, list):
            self.add(doc, (name,), f"{name} must be a list", _EXPECTED["list"])
            return []
        return items or []

    def add(self, doc: YamlDoc, path: tuple[PathPart, ...], message: str, expected: str) -> None:
        """Record a problem found by a cross-check at `path` in `doc`."""
        self.problems.append(Problem(doc.file, doc.line_of(path), dotted(path), message, expected))


def check(folder: str | Path) -> tuple[Config | None, list[Problem]]:
    """The configuration in `folder` and no problems, or None and every problem found."""
    run = Checker(Path(folder))
    muni_doc = run.read("municipality.yaml")
    programs_doc, campaigns_doc = run.read("programs.yaml"), run.read("campaigns.yaml")
    muni = _municipality(run, muni_doc)
    context = _context(muni, muni_doc.data)
    programs = _items(run, programs_doc, "programs", Program, context)
    known_ids = {
        i for item in _raw(programs_doc, "programs") if isinstance(i := item.get("id"), str)
    }
    campaigns = _items(run, campaigns_doc, "campaigns", Campaign, context)
    if programs_doc.readable:
        _check_references(run, campaigns_doc, known_ids)
    if muni is not None:
        _check_slots(run, campaigns_doc, campaigns, {p.id: p for p in programs.values()}, muni)
    if run.problems or muni is None:
        return None, sort_problems(run.problems)
    config = Config(
        municipality=muni.municipality,
        delivery=muni.delivery,
        kpi=muni.kpi,
        programs=tuple(programs.values()),
        campaigns=tuple(campaigns.values()),
    )
    return config, []


def _municipality(run: Checker, doc: YamlDoc) -> MunicipalityFile | None:
    if not doc.readable:
        return None  # already reported
    return run.validate(MunicipalityFile, doc, (), doc.data, {})


def _context(muni: MunicipalityFile | None, raw: Any) -> dict[str, Any]:
    """Names other files are checked against; from raw data if municipality.yaml is broken."""
    if muni is not None:
        m = muni.municipality
        return {"districts": m.districts, "topics": m.topics, "link_hosts": m.link_hosts}
    section = raw.get("municipality") if isinstance(raw, dict) else None
    section = section if isinstance(section, dict) else {}
    context = {}
    for key in ("districts", "topics", "link_hosts"):
        names = section.get(key)
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            context[key] = names
    return context


def _items(
    run: Checker, doc: YamlDoc, name: str, model: type[M], context: dict[str, Any]
) -> dict[int, M]:
    """Validate each item on its own (so one bad item hides no other); flag duplicate ids."""
    valid: dict[int, M] = {}
    first_at: dict[str, int] = {}
    for index, item in enumerate(run.section(doc, name)):
        built = run.validate(model, doc, (name, index), item, context)
        if built is not None:
            valid[index] = built
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            continue
        if item_id in first_at:
            first = first_at[item_id]
            run.add(
                doc,
                (name, index, "id"),
                f"duplicate id '{item_id}' (also {name}[{first}], "
                f"line {doc.line_of((name, first, 'id'))})",
                "give each item its own id",
            )
            valid.pop(index, None)
        else:
            first_at[item_id] = index
    return valid


def _raw(doc: YamlDoc, name: str) -> list[dict[str, Any]]:
    data = doc.data.get(name) if isinstance(doc.data, dict) else None
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _check_references(run: Checker, doc: YamlDoc, program_ids: set[str]) -> None:
    """Every campaign names a program id that programs.yaml defines."""
    for index, item in enumerate(_raw(doc, "campaigns")):
        target = item.get("program")
        if isinstance(target, str) and target not in program_ids:
            known = sorted(program_ids)
            hint = difflib.get_close_matches(target, known, n=1)
            run.add(
                doc,
                ("campaigns", index, "program"),
                f"unknown program '{target}'",
                f"did you mean '{hint[0]}'?"
                if hint
                else f"use an id from programs.yaml: {', '.join(known) or '(none yet)'}",
            )


def _check_slots(
    run: Checker,
    doc: YamlDoc,
    campaigns: dict[int, Campaign],
    programs: dict[str, Program],
    muni: MunicipalityFile,
) -> None:
    """Every send slot, once expanded and moved into the window, is inside the period."""
    for index, campaign in campaigns.items():
        program = programs.get(campaign.program)
        if program is None:
            continue
        period = program.period
        for number, slot in enumerate(campaign.send):
            moment = slot_moment(slot, program, muni.delivery)
            if not period.contains(moment.date()):
                run.add(
                    doc,
                    ("campaigns", index, "send", number),
                    f"send slot falls on {moment:%Y-%m-%d %H:%M}, outside the application "
                    f"period of '{program.id}' ({period.opens} to {period.closes})",
                    "choose a moment between opens and closes (inclusive)",
                )


def _problem(
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
        expected = next((v for k, v in _EXPECTED.items() if kind.startswith(k)), "")
    return Problem(doc.file, line, dotted(path), message, expected)


def _without_typo_echoes(errors: list[Any]) -> list[Any]:
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
