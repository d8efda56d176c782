"""Which registration questions could still matter, given the answers so far.

A question is worth asking only if some configured rule could still hold *because of*
its answer: with the answers given so far, there is a way the questions still to come
could be answered under which two answers to this question make the rule come out
differently. Questions not yet asked are unknown; questions asked (answered or skipped)
are known, skipped ones with config.md's meaning (a rule about them does not hold).

The reasoning treats every atom (`age: {min: 65}`, `child: {...}`, ...) about an unknown
attribute as a free true/false. That over-approximates what is possible (age ≥ 65 and
age ≤ 39 cannot both hold), so the answer "could matter" errs towards asking, never
towards leaving out a question a rule needs. Rules with more free atoms than `LIMIT`
are assumed to matter. Pure: no clock, no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from itertools import product
from typing import Any

from segments.evaluate import holds
from segments.profile import Profile
from segments.rules import AllRule, AnyRule, NotRule, attribute_of

LIMIT = 12  # free atoms per rule beyond which a rule is assumed to matter

# A rule, or a tuple of rules that must all hold (a program's eligibility and a campaign's
# audience), as the caller collects them from the configuration.
Condition = Any


def _leaves(node: Condition) -> list[Any]:
    if isinstance(node, tuple):
        return [leaf for sub in node for leaf in _leaves(sub)]
    if isinstance(node, AllRule | AnyRule):
        return [leaf for sub in node.root for leaf in _leaves(sub)]
    if isinstance(node, NotRule):
        return _leaves(node.root)
    return [node]


def _key(leaf: Any) -> str:
    # Equal atoms (the same `pregnant: true` twice) are one variable, not two.
    return type(leaf).__name__ + json.dumps(leaf.model_dump(mode="json"), sort_keys=True)


def _value(node: Condition, values: dict[str, bool]) -> bool:
    if isinstance(node, tuple):
        return all(_value(sub, values) for sub in node)
    if isinstance(node, AllRule):
        return all(_value(sub, values) for sub in node.root)
    if isinstance(node, AnyRule):
        return any(_value(sub, values) for sub in node.root)
    if isinstance(node, NotRule):
        return not _value(node.root, values)
    return values[_key(node)]


def _split(
    rule: Condition, profile: Profile, known: frozenset[str], on: dt.date
) -> tuple[dict[str, bool], dict[str, list[str]]]:
    """Known atoms with their value, and the free atoms grouped by attribute."""
    fixed: dict[str, bool] = {}
    free: dict[str, list[str]] = {}
    for leaf in _leaves(rule):
        key, attribute = _key(leaf), attribute_of(leaf)
        if attribute in known:
            fixed[key] = holds(leaf, profile, on)
        elif key not in free.setdefault(attribute, []):
            free[attribute].append(key)
    return fixed, free


def _assignments(keys: Sequence[str]) -> Iterable[dict[str, bool]]:
    for bits in product((False, True), repeat=len(keys)):
        yield dict(zip(keys, bits, strict=True))


def matters(
    rule: Condition,
    attribute: str,
    profile: Profile,
    known: frozenset[str],
    on: dt.date,
    *,
    for_all: frozenset[str] = frozenset(),
) -> bool:
    """Whether the answer about `attribute` could change whether `rule` holds.

    `for_all` names unknown attributes that must not matter for the claim: the answer
    must matter however *they* are answered (used to tell that a question will certainly
    be asked, whatever the questions before it bring).
    """
    fixed, free = _split(rule, profile, known, on)
    mine = free.pop(attribute, [])
    if not mine:
        return False
    every = [k for a in sorted(for_all) for k in free.pop(a, [])]
    some = [k for keys in free.values() for k in keys]
    if len(mine) + len(every) + len(some) > LIMIT:
        return not every  # too large to reason about: may matter, but not certainly
    for forced in _assignments(every):
        found = False
        for other in _assignments(some):
            base = {**fixed, **forced, **other}
            outcomes = {_value(rule, {**base, **x}) for x in _assignments(mine)}
            if len(outcomes) == 2:
                found = True
                break
        if not found:
            return False
    return True


def could_hold(
    rule: Condition, profile: Profile, known: frozenset[str], on: dt.date, *, must: bool = False
) -> bool:
    """Whether `rule` holds for some (with `must`: for every) answer to the unknown ones."""
    fixed, free = _split(rule, profile, known, on)
    keys = [k for ks in free.values() for k in ks]
    if len(keys) > LIMIT:
        return not must
    outcomes = (_value(rule, {**fixed, **x}) for x in _assignments(keys))
    return all(outcomes) if must else any(outcomes)


def not_answered(profile: Profile, attributes: Iterable[str]) -> Profile:
    """`profile` with these attributes as if skipped (None; no topics chosen)."""
    blanks = {a: frozenset() if a == "interests" else None for a in attributes}
    return dataclasses.replace(profile, **blanks)
