"""The rule language of config.md as typed pydantic v2 models.

A rule is a mapping with exactly one key; the key picks the node type through a
discriminated union. Each node validates only the *value* under its key, so an
error's ``loc`` is exactly the path in the YAML (``("all", 0, "age", "min")``),
never pydantic's usual doubled tag (``("age", "age", "min")``), and the config
loader can map it to a file line by walking the document.

Districts and topics are checked against the municipality when the validation
context carries them::

    TypeAdapter(Rule).validate_python(data, context={"districts": [...], "topics": [...]})
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StrictBool,
    Tag,
    ValidationInfo,
    WrapSerializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from segments.calendar import GRADES

Count = Annotated[int, Field(ge=0)]
# An upper limit keeps birth-date arithmetic inside the calendar (no year 0).
Years = Annotated[int, Field(ge=0, le=150)]


def _known(kind: str, context_key: str) -> Callable[[str, ValidationInfo], str]:
    """Build a validator checking a name against the municipality list in the context."""

    def check(name: str, info: ValidationInfo) -> str:
        valid = (info.context or {}).get(context_key)
        if valid is not None and name not in valid:
            raise PydanticCustomError(
                f"unknown_{kind}",
                "unknown {kind} '{name}'; valid: {valid}",
                {"kind": kind, "name": name, "valid": ", ".join(valid)},
            )
        return name

    return check


def _check_grade(name: str) -> str:
    if name not in GRADES:
        raise PydanticCustomError(
            "unknown_grade",
            "unknown grade '{name}'; valid: {valid}",
            {"name": name, "valid": ", ".join(GRADES)},
        )
    return name


District = Annotated[str, AfterValidator(_known("district", "districts"))]
Topic = Annotated[str, AfterValidator(_known("topic", "topics"))]
Grade = Annotated[str, AfterValidator(_check_grade)]


class _Mapping(BaseModel):
    """A rule value that is a mapping of options (age, child, household_size)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    KEY: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _only_known_keys(cls, data: Any) -> Any:
        # Rejecting unknown keys here, instead of extra="forbid" alone, lets the message
        # list the keys that would be valid.
        if isinstance(data, dict):
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                raise PydanticCustomError(
                    "unknown_key",
                    "unknown key '{key}' in {rule}; valid keys: {valid}",
                    {"key": unknown[0], "rule": cls.KEY, "valid": ", ".join(cls.model_fields)},
                )
        return data


class _Bounded(_Mapping):
    """An inclusive range [min, max], either bound optional."""

    min: Count | None = None
    max: Count | None = None

    @model_validator(mode="after")
    def _min_not_above_max(self) -> _Bounded:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError(
                "min_above_max",
                "min ({min}) is greater than max ({max}); use min <= max",
                {"min": self.min, "max": self.max},
            )
        return self


class AgeRange(_Bounded):
    """A child's age range inside a `child` rule."""

    KEY = "age"
    min: Years | None = None
    max: Years | None = None


class AgeRule(AgeRange):
    """`age: {min, max, on}` — the resident's age on `on` (default: send day)."""

    on: dt.date | None = None


class HouseholdSizeRule(_Bounded):
    """`household_size: {min, max}` — people in the household, the resident included."""

    KEY = "household_size"


class ChildRule(_Mapping):
    """`child: {age, grade, count, on}` — at least `count` children match every condition."""

    KEY = "child"
    age: AgeRange | None = None
    grade: Annotated[list[Grade], Field(min_length=1)] | None = None
    count: Annotated[int, Field(ge=1)] = 1
    on: dt.date | None = None


class _Value(RootModel[Any]):
    model_config = ConfigDict(frozen=True)
    KEY: ClassVar[str]


class AllRule(_Value):
    """`all: [rule, ...]` — every sub-rule holds."""

    KEY = "all"
    root: Annotated[list[Rule], Field(min_length=1)]


class AnyRule(_Value):
    """`any: [rule, ...]` — at least one sub-rule holds."""

    KEY = "any"
    root: Annotated[list[Rule], Field(min_length=1)]


class NotRule(_Value):
    """`not: rule` — the sub-rule does not hold."""

    KEY = "not"
    root: Rule


class DistrictRule(_Value):
    """`district: [name, ...]` — the resident lives in one of these districts."""

    KEY = "district"
    root: Annotated[list[District], Field(min_length=1)]


class InterestRule(_Value):
    """`interest: [topic, ...]` — the resident opted in to at least one topic."""

    KEY = "interest"
    root: Annotated[list[Topic], Field(min_length=1)]


class PregnantRule(_Value):
    """`pregnant: true/false` — the resident (or partner) is expecting."""

    KEY = "pregnant"
    root: StrictBool


class SingleParentRule(_Value):
    """`single_parent: true/false` — a one-parent household (ひとり親世帯)."""

    KEY = "single_parent"
    root: StrictBool


NODES: tuple[type[AgeRule] | type[ChildRule] | type[HouseholdSizeRule] | type[_Value], ...] = (
    AllRule,
    AnyRule,
    NotRule,
    AgeRule,
    DistrictRule,
    ChildRule,
    PregnantRule,
    HouseholdSizeRule,
    SingleParentRule,
    InterestRule,
)
KEYS: tuple[str, ...] = tuple(node.KEY for node in NODES)
_ONE_KEY = "a rule has exactly one key, one of: " + ", ".join(KEYS)


def _rule_key(value: Any) -> str | None:
    """Discriminator: the single key of a mapping, or the KEY of a node instance."""
    if isinstance(value, dict):
        return next(iter(value)) if len(value) == 1 else None
    return getattr(type(value), "KEY", None)


def _shape_error(got: str) -> PydanticCustomError:
    return PydanticCustomError(
        "rule_shape", "{one_key}; got {got}", {"one_key": _ONE_KEY, "got": got}
    )


def _check_shape(value: Any) -> Any:
    """Reject zero keys, two keys and unknown keys with a message naming the valid keys."""
    if isinstance(value, NODES):
        return value
    if not isinstance(value, dict):
        raise _shape_error(type(value).__name__)
    if len(value) != 1:
        raise _shape_error(f"{len(value)}: " + (", ".join(map(str, value)) or "none"))
    key = next(iter(value))
    if key not in KEYS:
        raise PydanticCustomError(
            "unknown_rule", "unknown rule '{key}'; {one_key}", {"key": key, "one_key": _ONE_KEY}
        )
    return value


def _unwrap(key: str) -> BeforeValidator:
    """Validate the value under the key, so errors are located at (key, ...) only once."""
    return BeforeValidator(lambda v: v[key] if isinstance(v, dict) else v)


def _rewrap(key: str) -> WrapSerializer:
    """Serialise a node back to its one-key mapping (round-trips through model_dump)."""
    return WrapSerializer(lambda v, handler: {key: handler(v)})


# Tag must come last in each choice's Annotated: pydantic reads it from the outermost schema.
_CHOICES = tuple(
    Annotated[node, _unwrap(node.KEY), _rewrap(node.KEY), Tag(node.KEY)] for node in NODES
)
Rule = Annotated[
    Union[_CHOICES],  # noqa: UP007 — a runtime tuple of choices needs the Union[...] spelling
    Discriminator(_rule_key),
    BeforeValidator(_check_shape),
]
"""A rule: use as a pydantic field annotation, or `TypeAdapter(Rule)`."""

for _node in (AllRule, AnyRule, NotRule):
    _node.model_rebuild()

_ATTRIBUTES = {
    AgeRule: "birth_date",
    DistrictRule: "district",
    ChildRule: "children",
    PregnantRule: "pregnant",
    HouseholdSizeRule: "household_size",
    SingleParentRule: "single_parent",
    InterestRule: "interests",
}


def attributes_used(rule: Any) -> frozenset[str]:
    """Name the resident attributes a rule reads (to ask only those questions)."""
    if isinstance(rule, AllRule | AnyRule):
        return frozenset().union(*(attributes_used(sub) for sub in rule.root))
    if isinstance(rule, NotRule):
        return attributes_used(rule.root)
    return frozenset({_ATTRIBUTES[type(rule)]})


def attribute_of(atom: Any) -> str:
    """The resident attribute one atom (a rule other than all/any/not) reads."""
    return _ATTRIBUTES[type(atom)]
