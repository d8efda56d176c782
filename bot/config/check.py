"""Check the three configuration files together and report every problem at once."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from bot.config.bundle import Config, slot_moment
from bot.config.explain import EXPECTED, problem_from_error, without_typo_echoes
from bot.config.models import QUESTIONS, TRANSLATION_LANGUAGES, MunicipalityFile
from bot.config.problems import PathPart, Problem, dotted, sort_problems
from bot.config.programs import Campaign, Program
from bot.config.yamlsource import YamlDoc, read_yaml
from segments.rules import Rule, attributes_used

M = TypeVar("M", bound=BaseModel)


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
            for error in without_typo_echoes(exc.errors(include_url=False)):
                self.problems.append(problem_from_error(doc, model, prefix, error))
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
            self.add(doc, (name,), f"{name} must be a list", EXPECTED["list"])
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
        questions=dict(muni.questions),
    )
    return config, []


def _municipality(run: Checker, doc: YamlDoc) -> MunicipalityFile | None:
    if not doc.readable:
        return None  # already reported
    # The context lets `questions.*.ask_if` rules name this file's districts and topics.
    return run.validate(MunicipalityFile, doc, (), doc.data, _context(None, doc.data))


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
        _check_empty_rules(run, doc, (name, index), item)
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


def _check_empty_rules(run: Checker, doc: YamlDoc, where: tuple[PathPart, ...], item: Any) -> None:
    # `eligible:` with nothing after it is YAML null. The models read null as "no rule",
    # i.e. every resident; from a file it is more likely a half-finished edit.
    for key in ("eligible", "audience"):
        if isinstance(item, dict) and key in item and item[key] is None:
            run.add(
                doc,
                (*where, key),
                "the rule is empty",
                "write a rule below it, or remove the key to mean every registered resident",
            )


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


QUESTION_NAMES_JA = {
    "birth_date": "生年月日",
    "district": "地区",
    "household_size": "家族の人数",
    "children": "お子さん",
    "pregnant": "妊娠",
    "single_parent": "ひとり親",
    "interests": "分野",
}


def warnings(config: Config) -> list[str]:
    """Things that are valid but probably not meant (printed by `config check`, exit 0)."""
    found = []
    if config.municipality.contact is None:
        bare = [p.id for p in config.programs if not (p.contact or p.department)]
        if bare:
            found.append(
                "warning: municipality.yaml: municipality.contact is not set, and these programs "
                f"name no contact or department: {', '.join(bare)}; their notices can only say "
                "「市役所の窓口や電話でも…」 without a number. Add municipality.contact "
                "(phone: 0237-55-2111, counter: 市役所1階 総合案内) or a contact to each program"
            )
    for name, question in config.questions.items():
        later = set(QUESTIONS[QUESTIONS.index(name) :])
        read = sorted(attributes_used(question.ask_if) & later)
        if read:
            found.append(
                f"warning: municipality.yaml: questions.{name}.ask_if reads {', '.join(read)}, "
                f"which is asked at or after '{name}', so it always counts as not answered there"
            )
    return found


def explain_questions(config: Config) -> list[str]:
    """Which registration questions are asked, and when (for `config check`)."""
    rules = [p.eligible for p in config.programs] + [c.audience for c in config.campaigns]
    used = frozenset().union(*(attributes_used(r) for r in rules if r is not None))
    lines = ["Questions (each asked only when some rule could still hold because of its answer):"]
    for name in QUESTIONS:
        label = f"  {name} ({QUESTION_NAMES_JA[name]})"
        if name != "interests" and name not in used:
            lines.append(f"{label}: not asked (no rule reads it)")
            continue
        question = config.questions.get(name)
        if question is None:
            lines.append(f"{label}: asked" + (" always" if name == "interests" else ""))
        else:
            shown = TypeAdapter(Rule).dump_python(question.ask_if, mode="json", exclude_none=True)
            rule = json.dumps(shown, ensure_ascii=False)
            lines.append(f"{label}: asked only of residents for whom ask_if holds: {rule}")
    return lines


def missing_translations(config: Config, folder: str | Path) -> list[Problem]:
    """Program names/summaries and campaign leads without a translation, one per item.

    `todoku config check` lists them as notes (exit 0): residents of that language get the
    Japanese (a program's with a note saying so). `--strict` makes them problems (exit 1),
    for a city that wants every notice translated before it goes out.
    """
    folder = Path(folder)
    found: list[Problem] = []
    municipality, _ = read_yaml(folder / "municipality.yaml")
    city = config.municipality
    lacking = []
    for lang in TRANSLATION_LANGUAGES:
        given = city.translations.get(lang)
        untranslated = [t for t in city.topics if t not in (given.topics if given else {})]
        if given is None or not given.name or untranslated:
            parts = ([] if given and given.name else ["name"]) + (
                ["topics"] if untranslated else []
            )
            lacking.append(f"{lang} ({', '.join(parts)})")
    if lacking:
        found.append(
            _missing(
                municipality,
                ("municipality",),
                city.name,
                lacking,
                "the city's name and topics as written",
            )
        )
    programs, _ = read_yaml(folder / "programs.yaml")
    for index, program in enumerate(config.programs):
        lacking = []
        for lang in TRANSLATION_LANGUAGES:
            given = program.translations.get(lang)
            parts = [p for p in ("name", "summary") if not getattr(given, p, None)]
            if parts:
                lacking.append(lang if len(parts) == 2 else f"{lang} ({parts[0]})")
        if lacking:
            found.append(
                _missing(
                    programs,
                    ("programs", index),
                    program.id,
                    lacking,
                    "the Japanese name and summary, with a note saying so",
                )
            )
    campaigns, _ = read_yaml(folder / "campaigns.yaml")
    for index, campaign in enumerate(config.campaigns):
        if campaign.lead is None:
            continue
        lacking = [
            lang
            for lang in TRANSLATION_LANGUAGES
            if not getattr(campaign.translations.get(lang), "lead", None)
        ]
        if lacking:
            found.append(
                _missing(campaigns, ("campaigns", index), campaign.id, lacking, "the Japanese lead")
            )
    return found


def _missing(
    doc: YamlDoc, path: tuple[PathPart, ...], item: str, lacking: list[str], shown: str
) -> Problem:
    return Problem(
        doc.file,
        doc.line_of(path),
        f"{dotted(path)}.translations",
        f"'{item}' is not translated into {', '.join(lacking)}",
        f"residents reading {', '.join(lacking)} get {shown}",
    )
