"""Evaluating parsed filters and order_by over entities, and MLflow-style opaque page tokens.

Both stores share this code: the in-memory one for tests and the Kubernetes one, whose watch-fed
cache hands every candidate entity of the asked experiments to ``select``.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

from mlkube_operator.server.entities import Experiment, LoggedModel, Run
from mlkube_operator.server.errors import invalid
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


def _compare_scalar(actual: Scalar, comparison: Comparison) -> bool:
    op, wanted = comparison.op, comparison.value
    if op == "IS NULL":
        return actual is None
    if op == "IS NOT NULL":
        return actual is not None
    if actual is None:
        return False  # SQL semantics: a missing key matches no comparison
    if op in ("IN", "NOT IN"):
        assert isinstance(wanted, tuple)
        return (actual in wanted) == (op == "IN")
    if isinstance(wanted, float):
        number = float(actual)
        return {
            "=": number == wanted,
            "!=": number != wanted,
            "<": number < wanted,
            "<=": number <= wanted,
            ">": number > wanted,
            ">=": number >= wanted,
        }[op]
    assert isinstance(wanted, str)
    text = str(actual)
    if op == "=":
        return text == wanted
    if op == "!=":
        return text != wanted
    return like_pattern(wanted, op == "ILIKE").fullmatch(text) is not None


def matches(entity: E, comparisons: Sequence[Comparison], get: Getter[E]) -> bool:
    for comparison in comparisons:
        actual = get(entity, comparison.entity, comparison.key)
        if isinstance(actual, list):
            if not any(_compare_scalar(v, comparison) for v in actual):
                return False
        elif not _compare_scalar(actual, comparison):
            return False
    return True


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
    """One predicate for all ``comparisons`` (the same semantics as ``matches``), built once per
    search so that walking ten thousand runs costs a few closure calls each."""
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


def order(entities: list[E], orders: Sequence[OrderBy], get: Getter[E]) -> list[E]:
    """Stable multi-key sort; entities missing a key come last whatever the direction (as the
    SQL stores do)."""

    def accessors(entity: Entity, key: str) -> Accessor[E]:
        return lambda e: get(e, entity, key)

    return order_with(entities, orders, accessors)


def order_with(
    entities: list[E], orders: Sequence[OrderBy], accessors: AccessorFactory[E]
) -> list[E]:
    """``order`` with keys resolved once per clause."""
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


def page(items: list[E], max_results: int, token: str | None) -> tuple[list[E], str | None]:
    """One page of ``items`` and the token of the next page (None on the last page)."""
    offset = decode_token(token)
    end = offset + max_results
    next_token = encode_token(end) if end < len(items) else None
    return items[offset:end], next_token


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise invalid(f"invalid page_token {token!r}: pass back a next_page_token") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise invalid(f"invalid page_token {token!r}: pass back a next_page_token")
    return offset


def run_accessor(entity: Entity, key: str) -> Accessor[Run]:
    """How to read ``key`` of a run, decided once (see ``compile_filter``)."""
    if entity is Entity.METRIC:

        def metric(run: Run) -> Scalar:
            found = run.metrics.get(key)
            return None if found is None else found.value

        return metric
    if entity is Entity.PARAM:
        return lambda run: run.params.get(key)
    if entity is Entity.TAG:
        return lambda run: run.tags.get(key)
    if entity is Entity.DATASET:
        return lambda run: [v for d in run.datasets if (v := getattr(d, key)) is not None]
    if key in ("start_time", "end_time"):

        def time(run: Run) -> Scalar:
            value = getattr(run.info, key)
            return None if value is None else float(value)

        return time
    return lambda run: str(getattr(run.info, key))


def run_value(run: Run, entity: Entity, key: str) -> Scalar | list[str]:
    if entity is Entity.METRIC:
        metric = run.metrics.get(key)
        return None if metric is None else metric.value
    if entity is Entity.PARAM:
        return run.params.get(key)
    if entity is Entity.TAG:
        return run.tags.get(key)
    if entity is Entity.DATASET:
        values = [getattr(d, key) for d in run.datasets]
        return [v for v in values if v is not None]
    info = run.info
    if key in ("start_time", "end_time"):
        number = getattr(info, key)
        return None if number is None else float(number)
    value: str = str(getattr(info, key))
    return value


# Runs without an explicit order: newest first, then by id (MLflow's tie-breakers).
DEFAULT_RUN_ORDER = (
    OrderBy(Entity.ATTRIBUTE, "start_time", False),
    OrderBy(Entity.ATTRIBUTE, "run_id", True),
)


def with_tiebreakers(orders: Sequence[OrderBy], defaults: Sequence[OrderBy]) -> list[OrderBy]:
    out = list(orders)
    keys = {(o.entity, o.key) for o in out}
    out.extend(d for d in defaults if (d.entity, d.key) not in keys)
    return out


def experiment_value(experiment: Experiment, entity: Entity, key: str) -> Scalar | list[str]:
    if entity is Entity.TAG:
        return experiment.tags.get(key)
    if key == "experiment_id":
        # Ids are numeric strings; order them as numbers, compare them as strings.
        return experiment.experiment_id
    if key in ("creation_time", "last_update_time"):
        return float(getattr(experiment, key))
    value: str = getattr(experiment, key)
    return value


def experiment_sort_value(experiment: Experiment, entity: Entity, key: str) -> Scalar | list[str]:
    if entity is Entity.ATTRIBUTE and key == "experiment_id":
        return float(experiment.experiment_id)
    return experiment_value(experiment, entity, key)


DEFAULT_EXPERIMENT_ORDER = (
    OrderBy(Entity.ATTRIBUTE, "creation_time", False),
    OrderBy(Entity.ATTRIBUTE, "experiment_id", True),
)


def logged_model_value(model: LoggedModel, entity: Entity, key: str) -> Scalar | list[str]:
    if entity is Entity.TAG:
        return model.tags.get(key)
    if entity is Entity.PARAM:
        return model.params.get(key)
    if entity is Entity.METRIC:
        values = [m for m in model.metrics if m.key == key]
        return max(values, key=lambda m: m.order_key()).value if values else None
    if key == "creation_timestamp":
        return float(model.creation_timestamp_ms)
    if key == "last_updated_timestamp":
        return float(model.last_updated_timestamp_ms)
    value = getattr(model, key)
    return None if value is None else str(value)


DEFAULT_LOGGED_MODEL_ORDER = (
    OrderBy(Entity.ATTRIBUTE, "creation_timestamp", False),
    OrderBy(Entity.ATTRIBUTE, "model_id", True),
)
