"""Search over the registry: MLflow's filter and order_by rules for registered models and model
versions, on top of the shared grammar (grammar.py), evaluator (evaluate.py) and query (query.py).

The registry's language is narrower than the runs one: only attributes and tags, tags compared
with ``= != LIKE ILIKE`` (no IS NULL), and filters on fewer attributes than may be ordered by.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mlkube_operator.server.errors import invalid
from mlkube_operator.server.search import evaluate, grammar
from mlkube_operator.server.search.evaluate import per_key
from mlkube_operator.server.search.grammar import Comparison, Dialect, Entity, OrderBy
from mlkube_operator.server.search.query import Query, compile_query
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.entities import ModelVersion, RegisteredModel

E = TypeVar("E")
_TIMES = frozenset({"creation_timestamp", "last_updated_timestamp"})

REGISTERED_MODELS = Dialect(
    entities=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
    numeric_attributes=_TIMES,
    string_attributes=frozenset({"name"}),
    list_attributes=frozenset({"name"}),
    orderable_attributes=frozenset({"name", *_TIMES}),
    # MLflow's older spelling for ordering by time.
    aliases={"timestamp": "last_updated_timestamp"},
)
MODEL_FILTER_KEYS = frozenset({"name"})

MODEL_VERSIONS = Dialect(
    entities=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
    numeric_attributes=frozenset({"version_number", *_TIMES}),
    string_attributes=frozenset({"name", "run_id", "source_path"}),
    list_attributes=frozenset({"name", "run_id"}),
    orderable_attributes=frozenset({"name", "version_number", *_TIMES}),
)
VERSION_FILTER_KEYS = frozenset({"name", "version_number", "run_id", "source_path"})

DEFAULT_MODEL_ORDER = (OrderBy(Entity.ATTRIBUTE, "name", True),)
# Without order_by MLflow lists the most recently changed versions first.
DEFAULT_VERSION_ORDER = (
    OrderBy(Entity.ATTRIBUTE, "last_updated_timestamp", False),
    OrderBy(Entity.ATTRIBUTE, "name", True),
    OrderBy(Entity.ATTRIBUTE, "version_number", False),
)
VERSION_TIEBREAKERS = (
    OrderBy(Entity.ATTRIBUTE, "name", True),
    OrderBy(Entity.ATTRIBUTE, "version_number", False),
)


def _filter(text: str | None, dialect: Dialect, keys: frozenset[str]) -> tuple[Comparison, ...]:
    comparisons = grammar.parse_filter(text, dialect)
    for c in comparisons:
        if c.entity is Entity.ATTRIBUTE and c.key not in keys:
            raise invalid(
                f"invalid attribute key {c.key!r} in the filter: valid keys are {sorted(keys)}"
            )
        if c.entity is Entity.TAG and c.op in grammar.NULL_OPS:
            raise invalid(f"{c.op} is not supported for registry tags; use =, !=, LIKE or ILIKE")
    return comparisons


def _orders(clauses: Sequence[str], dialect: Dialect) -> tuple[OrderBy, ...]:
    orders = grammar.parse_order_by(list(clauses), dialect)
    seen: set[str] = set()
    for order in orders:
        if order.entity is not Entity.ATTRIBUTE:
            raise invalid(f"invalid order_by entity {order.entity.value!r}: order by attributes")
        if order.key in seen:
            raise invalid(f"`order_by` contains duplicate fields: {list(clauses)}")
        seen.add(order.key)
    return orders


def parse_model_filter(text: str | None) -> tuple[Comparison, ...]:
    return _filter(text, REGISTERED_MODELS, MODEL_FILTER_KEYS)


def parse_version_filter(text: str | None) -> tuple[Comparison, ...]:
    return _filter(text, MODEL_VERSIONS, VERSION_FILTER_KEYS)


def model_orders(clauses: Sequence[str]) -> list[OrderBy]:
    return evaluate.with_tiebreakers(_orders(clauses, REGISTERED_MODELS), DEFAULT_MODEL_ORDER)


def version_orders(clauses: Sequence[str]) -> list[OrderBy]:
    if not clauses:
        return list(DEFAULT_VERSION_ORDER)
    return evaluate.with_tiebreakers(_orders(clauses, MODEL_VERSIONS), VERSION_TIEBREAKERS)


def split_prompt_filter(
    comparisons: Sequence[Comparison],
) -> tuple[tuple[Comparison, ...], bool]:
    """The comparisons without those on the prompt tag, and whether the search is for prompts.

    MLflow keeps prompts as registered models with that tag and leaves them out of searches
    unless the filter asks for them (``tags.`mlflow.prompt.is_prompt` = 'true'``); comparisons
    on the tag only choose between the two sets, since models do not carry it at all.
    """
    rest = tuple(c for c in comparisons if not _on_prompt_tag(c))
    for c in comparisons:
        if _on_prompt_tag(c) and isinstance(c.value, str):
            value = c.value.lower()
            return rest, (c.op == "=" and value == "true") or (c.op == "!=" and value == "false")
    return rest, False


def _on_prompt_tag(c: Comparison) -> bool:
    return c.entity is Entity.TAG and c.key == rules.PROMPT_TAG


def model_value(model: RegisteredModel, entity: Entity, key: str) -> evaluate.Scalar:
    if entity is Entity.TAG:
        return model.tags.get(key)
    if key == "name":
        return model.name
    if key == "creation_timestamp":
        return float(model.creation_timestamp)
    return float(model.last_updated_timestamp)


def version_value(version: ModelVersion, entity: Entity, key: str) -> evaluate.Scalar:
    if entity is Entity.TAG:
        return version.tags.get(key)
    if key == "name":
        return version.name
    if key == "run_id":
        return version.run_id
    if key == "source_path":
        return version.source
    if key == "version_number":
        return float(version.version)
    if key == "creation_timestamp":
        return float(version.creation_timestamp)
    return float(version.last_updated_timestamp)


def models_query(
    filter_string: str | None, order_by: Sequence[str], page_token: str | None
) -> Query[RegisteredModel]:
    """Registered models (prompts only when the filter asks for them)."""
    comparisons, prompts = split_prompt_filter(parse_model_filter(filter_string))
    orders = model_orders(order_by)
    query = compile_query(comparisons, orders, page_token, per_key(model_value))
    matches = query.predicate
    return _with_predicate(query, lambda m: rules.is_prompt(m.tags) == prompts and matches(m))


@dataclass(frozen=True)
class VersionsQuery:
    query: Query[ModelVersion]
    only_model: str | None  # the model a filter is limited to, so only its versions are read


def versions_query(
    filter_string: str | None, order_by: Sequence[str], page_token: str | None
) -> VersionsQuery:
    """Model versions (of prompts only when the filter asks for them)."""
    comparisons, prompts = split_prompt_filter(parse_version_filter(filter_string))
    orders = version_orders(order_by)
    query = compile_query(comparisons, orders, page_token, per_key(version_value))
    matches = query.predicate
    query = _with_predicate(query, lambda v: rules.is_prompt(v.tags) == prompts and matches(v))
    return VersionsQuery(query, _only_model(comparisons))


def _with_predicate(query: Query[E], predicate: Callable[[E], bool]) -> Query[E]:
    return Query(predicate, query.orders, query.sort_accessors, query.page_token)


def _only_model(comparisons: Sequence[Comparison]) -> str | None:
    for c in comparisons:
        if c.entity is Entity.ATTRIBUTE and c.key == "name" and c.op == "=":
            return c.value if isinstance(c.value, str) else None
    return None
