"""Evaluating parsed filters and order_by over entities, and MLflow-style opaque page tokens.

Both stores share this code: the in-memory one for tests and the Kubernetes one, whose watch-fed
cache hands every candidate entity of the asked experiments to ``select``.
"""

from __future__ import annotations

import base64
import binascii
import json
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


def order(entities: list[E], orders: Sequence[OrderBy], get: Getter[E]) -> list[E]:
    """Stable multi-key sort; entities missing a key come last whatever the direction (as the
    SQL stores do)."""
    items = list(entities)
    for clause in reversed(orders):
        keyed = [(get(e, clause.entity, clause.key), e) for e in items]
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
