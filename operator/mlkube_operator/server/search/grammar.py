"""Parsing filters and order_by clauses into typed comparisons, checked against a dialect.

A dialect (runs, experiments, logged models) says which entity types and attribute keys exist and
which comparators each accepts, mirroring MLflow's search rules (shared/MLFLOW-PROTOCOL.md).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from enum import StrEnum

from mlkube_operator.server.errors import invalid
from mlkube_operator.server.search.tokens import Cursor, T


class Entity(StrEnum):
    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    ATTRIBUTE = "attribute"
    DATASET = "dataset"


ENTITY_PREFIXES: dict[str, Entity] = {
    "metric": Entity.METRIC,
    "metrics": Entity.METRIC,
    "param": Entity.PARAM,
    "params": Entity.PARAM,
    "parameter": Entity.PARAM,
    "parameters": Entity.PARAM,
    "tag": Entity.TAG,
    "tags": Entity.TAG,
    "attribute": Entity.ATTRIBUTE,
    "attributes": Entity.ATTRIBUTE,
    "attr": Entity.ATTRIBUTE,
    "run": Entity.ATTRIBUTE,
    "dataset": Entity.DATASET,
    "datasets": Entity.DATASET,
}

# LIKE/ILIKE cost up to len(value) * len(pattern) per value (evaluate.like_matcher): bound the
# pattern (issue 13). MLflow's own values are at most 8,000 characters (run tag values).
MAX_LIKE_PATTERN = 1000
NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
LIST_OPS = frozenset({"IN", "NOT IN"})


@dataclass(frozen=True)
class Dialect:
    """What one search endpoint accepts."""

    entities: frozenset[Entity]
    numeric_attributes: frozenset[str]
    string_attributes: frozenset[str]
    list_attributes: frozenset[str]
    orderable_attributes: frozenset[str]
    # Alternative spellings of attribute keys, mapped to the canonical key.
    aliases: dict[str, str] = field(default_factory=dict)
    dataset_keys: frozenset[str] = frozenset({"name", "digest", "context"})


RUNS = Dialect(
    entities=frozenset(Entity),
    numeric_attributes=frozenset({"start_time", "end_time"}),
    string_attributes=frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri"}),
    list_attributes=frozenset({"run_id"}),
    orderable_attributes=frozenset(
        {"start_time", "end_time", "run_id", "run_name", "status", "user_id", "artifact_uri"}
    ),
    aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
)

EXPERIMENTS = Dialect(
    entities=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
    numeric_attributes=frozenset({"creation_time", "last_update_time"}),
    string_attributes=frozenset({"name", "experiment_id"}),
    list_attributes=frozenset({"experiment_id"}),
    orderable_attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
)

LOGGED_MODELS = Dialect(
    entities=frozenset({Entity.ATTRIBUTE, Entity.TAG, Entity.PARAM, Entity.METRIC}),
    numeric_attributes=frozenset({"creation_timestamp", "creation_time", "last_updated_timestamp"}),
    string_attributes=frozenset({"name", "model_id", "model_type", "status", "source_run_id"}),
    list_attributes=frozenset({"model_id", "name", "status", "source_run_id"}),
    orderable_attributes=frozenset(
        {"name", "model_id", "creation_timestamp", "creation_time", "last_updated_timestamp"}
    ),
    aliases={"creation_time": "creation_timestamp"},
)

Value = str | float | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    entity: Entity
    key: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: Entity
    key: str
    ascending: bool


def _identifier(raw: str, dialect: Dialect) -> tuple[Entity, str]:
    if "\x00" in raw:
        prefix, key = raw.split("\x00", 1)
        entity = ENTITY_PREFIXES.get(prefix)
        if entity is None:
            raise invalid(
                f"invalid entity type {prefix!r} in {prefix}.{key}: use one of metrics., "
                "params., tags., attributes. or datasets."
            )
    else:
        entity, key = Entity.ATTRIBUTE, raw
    if entity not in dialect.entities:
        raise invalid(f"{entity.value} keys cannot be searched here ({raw.replace(chr(0), '.')})")
    if not key:
        raise invalid("an empty key cannot be searched")
    if entity is Entity.ATTRIBUTE:
        key = dialect.aliases.get(key, key)
        known = dialect.numeric_attributes | dialect.string_attributes
        if key not in known:
            raise invalid(f"invalid attribute key {key!r}: valid keys are {sorted(known)}")
    if entity is Entity.DATASET and key not in dialect.dataset_keys:
        raise invalid(f"invalid dataset key {key!r}: valid keys are {sorted(dialect.dataset_keys)}")
    return entity, key


def _numeric(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise invalid(f"expected a number to compare {what} with, got {text!r}") from None


def _comparison(cursor: Cursor, dialect: Dialect) -> Comparison:
    ident = cursor.expect(T.IDENT, "a key such as metrics.loss or params.alpha")
    entity, key = _identifier(ident.text, dialect)
    shown = ident.text.replace("\x00", ".")
    numeric = entity is Entity.METRIC or (
        entity is Entity.ATTRIBUTE and key in dialect.numeric_attributes
    )
    token = cursor.next()
    if token.kind is T.WORD and token.text == "IS":
        negate = cursor.accept_word("NOT")
        if not cursor.accept_word("NULL"):
            raise cursor.error(cursor.peek(), "NULL")
        op = "IS NOT NULL" if negate else "IS NULL"
        if entity not in (Entity.PARAM, Entity.TAG):
            raise invalid(f"{op} is only supported for params and tags, not {shown}")
        return Comparison(entity, key, op, None)
    if token.kind is T.WORD and token.text in ("IN", "NOT"):
        if token.text == "NOT" and not cursor.accept_word("IN"):
            raise cursor.error(cursor.peek(), "IN")
        op = "IN" if token.text == "IN" else "NOT IN"
        allowed = entity is Entity.DATASET or (
            entity is Entity.ATTRIBUTE and key in dialect.list_attributes
        )
        if not allowed:
            raise invalid(
                f"{op} is only supported for {sorted(dialect.list_attributes)} "
                f"and dataset keys, not {shown}"
            )
        cursor.expect(T.LPAREN, "'(' to start a list of quoted strings")
        values = [_list_item(cursor)]
        while cursor.peek().kind is T.COMMA:
            cursor.next()
            if cursor.peek().kind is T.RPAREN:
                break  # MLflow reads the list as a Python tuple: one trailing comma is allowed
            values.append(_list_item(cursor))
        cursor.expect(T.RPAREN, "')' to close the list")
        return Comparison(entity, key, op, tuple(values))
    if (token.kind is T.WORD and token.text in ("LIKE", "ILIKE")) or token.kind is T.OP:
        op = token.text
    else:
        raise cursor.error(token, "a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IS, IN)")
    value_token = cursor.next()
    if numeric:
        if op not in NUMERIC_OPS:
            raise invalid(
                f"{op} cannot compare the numeric {shown}; use one of {sorted(NUMERIC_OPS)}"
            )
        if value_token.kind is T.NUMBER:
            return Comparison(entity, key, op, _numeric(value_token.text, shown))
        quoted = value_token.string()
        if entity is Entity.ATTRIBUTE and quoted is not None:
            # MLflow accepts quoted numbers for time attributes ("start_time > '1700000000000'").
            return Comparison(entity, key, op, _numeric(quoted, shown))
        raise cursor.error(value_token, f"a number to compare {shown} with")
    if op not in STRING_OPS:
        raise invalid(f"{op} cannot compare the string {shown}; use one of {sorted(STRING_OPS)}")
    value = value_token.string()
    if value is None:
        raise cursor.error(
            value_token, f"a quoted string ('...' or \"...\") to compare {shown} with"
        )
    if op in ("LIKE", "ILIKE") and len(value) > MAX_LIKE_PATTERN:
        raise invalid(
            f"the pattern of {shown} {op} is {len(value)} characters long, more than "
            f"the limit of {MAX_LIKE_PATTERN}; shorten it"
        )
    return Comparison(entity, key, op, value)


def _list_item(cursor: Cursor) -> str:
    """One quoted string of an IN list.

    MLflow reads the list as a Python literal, so here, unlike in a comparison with one value,
    backslash escapes count (``'it\\'s'`` is ``it's``) and a doubled quote joins two strings
    (``'a''b'`` is ``ab``): read each item the same way.
    """
    token = cursor.next()
    if token.string() is None:
        raise cursor.error(token, "a quoted string")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown escape such as \d warns, and stays as written
        try:
            value = ast.literal_eval(token.raw)
        except (SyntaxError, ValueError):
            raise invalid(
                f"invalid search expression {cursor.text!r}: the list item {token.raw} at "
                f"position {token.pos} is not a well-formed quoted string"
            ) from None
    if not isinstance(value, str):
        raise cursor.error(token, "a quoted string")
    return value


def parse_filter(text: str | None, dialect: Dialect) -> tuple[Comparison, ...]:
    """The comparisons of ``text`` (all must hold); an empty filter matches everything."""
    if text is None or not text.strip():
        return ()
    cursor = Cursor(text)
    comparisons = [_comparison(cursor, dialect)]
    while cursor.peek().kind is not T.END:
        token = cursor.next()
        if token.kind is T.WORD and token.text == "OR":
            raise invalid(f"invalid search expression {text!r}: OR is not supported; use AND")
        if not (token.kind is T.WORD and token.text == "AND"):
            raise cursor.error(token, "AND or the end")
        comparisons.append(_comparison(cursor, dialect))
    return tuple(comparisons)


def parse_order_by(clauses: list[str], dialect: Dialect) -> tuple[OrderBy, ...]:
    """One OrderBy per clause such as ``metrics.loss DESC``; ascending unless DESC."""
    out: list[OrderBy] = []
    for clause in clauses:
        cursor = Cursor(clause)
        ident = cursor.expect(T.IDENT, "a key to order by")
        entity, key = _identifier(ident.text, dialect)
        if entity is Entity.ATTRIBUTE and key not in dialect.orderable_attributes:
            raise invalid(f"cannot order by attribute {key!r}")
        if entity is Entity.DATASET:
            raise invalid("cannot order by dataset keys")
        ascending = True
        token = cursor.next()
        if token.kind is T.WORD and token.text in ("ASC", "DESC"):
            ascending = token.text == "ASC"
            token = cursor.next()
        if token.kind is not T.END:
            raise cursor.error(token, "ASC, DESC or the end of the order_by clause")
        out.append(OrderBy(entity, key, ascending))
    return tuple(out)
