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


def _segment_at(value: str, segment: str, at: int) -> bool:
    """``segment`` (``_`` for any one character) matches ``value`` at index ``at``."""
    if at + len(segment) > len(value):
        return False
    return all(c == "_" or c == value[at + i] for i, c in enumerate(segment))


def _segment_finder(segment: str) -> Callable[[str, int, int], int]:
    """A function of (value, start, stop): the first index in [start, stop - len(segment)]
    where ``segment`` matches, or -1.

    A segment with ``_`` is searched by a regular expression without quantifiers (one ``.``
    per ``_``): it cannot backtrack beyond one segment's length, and runs in C, where a loop
    here took 0.36 s for a 1,000-character pattern over an 8,000-character value.
    """
    if "_" not in segment:
        return lambda value, start, stop: value.find(segment, start, stop)
    regex = re.compile("".join("." if c == "_" else re.escape(c) for c in segment), re.DOTALL)

    def find(value: str, start: int, stop: int) -> int:
        found = regex.search(value, start, stop)
        return -1 if found is None else found.start()

    return find


@lru_cache(maxsize=512)
def like_matcher(pattern: str, ignore_case: bool) -> Callable[[str], bool]:
    """SQL LIKE: ``%`` is any run of characters, ``_`` is one character.

    Not one regular expression for the pattern: ``%a%a%a%b`` compiled to one backtracks
    exponentially on a long value that almost matches (issue 13: one such filter held the
    server for seconds). The
    pattern splits at ``%`` into fixed-length segments; the first must match at the start, the
    last at the end, and each one between at its leftmost place after the previous one, which
    is where any match could put it. Time is at most len(value) * len(pattern).
    """
    fold = str.lower if ignore_case else str
    segments = fold(pattern).split("%")
    first, last = segments[0], segments[-1]
    middle = [(s, _segment_finder(s)) for s in segments[1:-1] if s]

    def matches(raw: str) -> bool:
        value = fold(raw)
        if len(segments) == 1:
            return len(value) == len(first) and _segment_at(value, first, 0)
        stop = len(value) - len(last)
        if stop < len(first) or not _segment_at(value, first, 0):
            return False
        if not _segment_at(value, last, stop):
            return False
        at = len(first)
        for segment, find in middle:
            found = find(value, at, stop)
            if found < 0:
                return False
            at = found + len(segment)
        return True

    return matches


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
    like = like_matcher(wanted, op == "ILIKE")
    return lambda value: like(str(value))


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
