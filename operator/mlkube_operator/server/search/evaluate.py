"""The one evaluator of parsed filters and order_by: a filter compiles once into a predicate,
an order into a sort; both read entities through accessors resolved once per key.

Every search of every store goes through it (query.py); what a key means for each kind of
entity lives beside its dialect (tracking.py, registry.py).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

from mlkube_operator.server.search.grammar import Comparison, Entity, OrderBy

E = TypeVar("E")
Scalar = str | float | None
# What a key of an entity holds: a scalar, or for datasets every dataset's value.
Getter = Callable[[E, Entity, str], Scalar | list[str]]
# The same, resolved once per key: a function of the entity alone (the fast path of search).
Accessor = Callable[[E], Scalar | list[str]]
AccessorFactory = Callable[[Entity, str], Accessor[E]]
_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@lru_cache(maxsize=512)
def like_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """SQL LIKE as a regular expression: % is any run of characters, _ is one character."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _scalar_test(comparison: Comparison) -> Callable[[str | float], bool]:
    """The comparison as a test of one present value, with everything constant bound once."""
    op, wanted = comparison.op, comparison.value
    if op in ("IN", "NOT IN"):
        assert isinstance(wanted, tuple)
        choices = frozenset(wanted)
        inside = op == "IN"
        return lambda value: (value in choices) == inside
    if isinstance(wanted, float):
        compare = _NUMERIC_OPS[op]
        return lambda value: compare(float(value), wanted)
    assert isinstance(wanted, str)
    if op == "=":
        return lambda value: value == wanted
    if op == "!=":
        return lambda value: value != wanted
    pattern = like_pattern(wanted, op == "ILIKE")
    return lambda value: pattern.fullmatch(str(value)) is not None


def _predicate(comparison: Comparison, get: Accessor[E]) -> Callable[[E], bool]:
    if comparison.op in ("IS NULL", "IS NOT NULL"):
        absent = comparison.op == "IS NULL"

        def null_test(entity: E) -> bool:
            return (get(entity) is None) == absent

        return null_test
    test = _scalar_test(comparison)
    if comparison.entity is Entity.DATASET:

        def any_test(entity: E) -> bool:
            values = get(entity)
            return isinstance(values, list) and any(map(test, values))

        return any_test

    def scalar_test(entity: E) -> bool:
        value = get(entity)
        return value is not None and not isinstance(value, list) and test(value)

    return scalar_test


def compile_filter(
    comparisons: Sequence[Comparison], accessors: AccessorFactory[E]
) -> Callable[[E], bool]:
    """One predicate for all ``comparisons`` (SQL semantics: a missing key matches no comparison
    but IS NULL), built once per search so that walking ten thousand runs costs a few closure
    calls each."""
    tests = [_predicate(c, accessors(c.entity, c.key)) for c in comparisons]
    if not tests:
        return lambda entity: True
    predicate = tests[-1]
    for test in reversed(tests[:-1]):
        predicate = _both(test, predicate)
    return predicate


def _both(first: Callable[[E], bool], rest: Callable[[E], bool]) -> Callable[[E], bool]:
    # A chain of `and`s: cheaper per entity than all() over a generator.
    return lambda entity: first(entity) and rest(entity)


def order(entities: list[E], orders: Sequence[OrderBy], accessors: AccessorFactory[E]) -> list[E]:
    """Stable multi-key sort, keys resolved once per clause; entities missing a key come last
    whatever the direction (as the SQL stores do)."""
    items = list(entities)
    for clause in reversed(orders):
        get = accessors(clause.entity, clause.key)
        keyed = [(get(e), e) for e in items]
        present = [(v, e) for v, e in keyed if v is not None and not isinstance(v, list)]
        missing = [e for v, e in keyed if v is None or isinstance(v, list)]
        present.sort(
            key=lambda pair: pair[0], reverse=not clause.ascending
        )  # values of one key share a type
        items = [e for _, e in present] + missing
    return items


def with_tiebreakers(orders: Sequence[OrderBy], defaults: Sequence[OrderBy]) -> list[OrderBy]:
    out = list(orders)
    keys = {(o.entity, o.key) for o in out}
    out.extend(d for d in defaults if (d.entity, d.key) not in keys)
    return out


def per_key(get: Getter[E]) -> AccessorFactory[E]:
    """An accessor factory from a value function of (entity, entity type, key)."""

    def accessors(entity: Entity, key: str) -> Accessor[E]:
        return lambda e: get(e, entity, key)

    return accessors
