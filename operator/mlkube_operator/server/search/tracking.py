"""Search over tracking entities: what each filter and order_by key of an experiment, a run and a
logged model means, MLflow's default orders, and the queries the tracking stores run."""

from __future__ import annotations

from collections.abc import Sequence

from mlkube_operator.server.entities import Experiment, LoggedModel, Run
from mlkube_operator.server.search import grammar
from mlkube_operator.server.search.evaluate import Accessor, Scalar, per_key, with_tiebreakers
from mlkube_operator.server.search.grammar import Entity, OrderBy
from mlkube_operator.server.search.query import Query, compile_query

# A logged model's order_by item: (field_name, ascending).
OrderField = tuple[str, bool]


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


# Runs without an explicit order: newest first, then by id (MLflow's tie-breakers).
DEFAULT_RUN_ORDER = (
    OrderBy(Entity.ATTRIBUTE, "start_time", False),
    OrderBy(Entity.ATTRIBUTE, "run_id", True),
)


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


def experiments_query(
    filter_string: str | None, order_by: Sequence[str], page_token: str | None
) -> Query[Experiment]:
    comparisons = grammar.parse_filter(filter_string, grammar.EXPERIMENTS)
    orders = grammar.parse_order_by(list(order_by), grammar.EXPERIMENTS)
    return compile_query(
        comparisons,
        with_tiebreakers(orders, DEFAULT_EXPERIMENT_ORDER),
        page_token,
        per_key(experiment_value),
        per_key(experiment_sort_value),
    )


def runs_query(
    filter_string: str | None, order_by: Sequence[str], page_token: str | None
) -> Query[Run]:
    comparisons = grammar.parse_filter(filter_string, grammar.RUNS)
    orders = grammar.parse_order_by(list(order_by), grammar.RUNS)
    return compile_query(
        comparisons, with_tiebreakers(orders, DEFAULT_RUN_ORDER), page_token, run_accessor
    )


def logged_models_query(
    filter_string: str | None, order_by: Sequence[OrderField], page_token: str | None
) -> Query[LoggedModel]:
    comparisons = grammar.parse_filter(filter_string, grammar.LOGGED_MODELS)
    orders: list[OrderBy] = []
    for field_name, ascending in order_by:
        parsed = grammar.parse_order_by([field_name], grammar.LOGGED_MODELS)[0]
        orders.append(OrderBy(parsed.entity, parsed.key, ascending))
    return compile_query(
        comparisons,
        with_tiebreakers(orders, DEFAULT_LOGGED_MODEL_ORDER),
        page_token,
        per_key(logged_model_value),
    )
