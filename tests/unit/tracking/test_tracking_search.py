"""MLflow's search grammar: parsing, errors and evaluation over runs."""

from __future__ import annotations

import dataclasses

import pytest

from mlkube_operator.server.entities import (
    DatasetInput,
    LifecycleStage,
    Metric,
    Run,
    RunInfo,
    RunStatus,
)
from mlkube_operator.server.errors import MlflowError
from mlkube_operator.server.search import evaluate, grammar, paging, tracking
from mlkube_operator.server.search.grammar import Comparison, Entity, OrderBy


def parse(text: str) -> tuple[Comparison, ...]:
    return grammar.parse_filter(text, grammar.RUNS)


def test_prefixes_backticks_and_quotes() -> None:
    assert parse(
        "metric.loss < 0.5 AND params.`my param` = 'a' AND tag.\"mlflow.user\" != 'b'"
    ) == (
        Comparison(Entity.METRIC, "loss", "<", 0.5),
        Comparison(Entity.PARAM, "my param", "=", "a"),
        Comparison(Entity.TAG, "mlflow.user", "!=", "b"),
    )
    assert parse("tags.mlflow.source.type = 'NOTEBOOK'")[0].key == "mlflow.source.type"


def test_attributes_aliases_and_lists() -> None:
    assert parse("status = 'FINISHED' and attr.start_time >= 10 and created < 5") == (
        Comparison(Entity.ATTRIBUTE, "status", "=", "FINISHED"),
        Comparison(Entity.ATTRIBUTE, "start_time", ">=", 10.0),
        Comparison(Entity.ATTRIBUTE, "start_time", "<", 5.0),
    )
    assert parse("run.run_id NOT IN ('a', 'b')") == (
        Comparison(Entity.ATTRIBUTE, "run_id", "NOT IN", ("a", "b")),
    )
    assert parse("params.p IS NOT NULL and tags.t is null") == (
        Comparison(Entity.PARAM, "p", "IS NOT NULL", None),
        Comparison(Entity.TAG, "t", "IS NULL", None),
    )
    assert parse("datasets.context IN ('train')")[0].entity is Entity.DATASET


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("params.a = '1' OR params.b = '2'", "OR is not supported"),
        ("metrics.loss LIKE 'x'", "numeric"),
        ("params.p < 'x'", "cannot compare the string"),
        ("params.p = 1", "a quoted string"),
        ("metrics.loss = 'x'", "a number"),
        ("bogus.x = 'a'", "invalid entity type"),
        ("attributes.size = 'a'", "invalid attribute key"),
        ("params.p IN ('a')", "only supported"),
        ("metrics.m IS NULL", "only supported for params and tags"),
        ("metrics.loss <", "expected"),
        ("params.p = 'unterminated", "unterminated"),
        ("metrics.loss < 1 extra", "AND or the end"),
        ("params.p = 'a' ;", "unexpected character"),
        ("run_id IN ()", "quoted string"),
    ],
)
def test_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(MlflowError) as caught:
        parse(text)
    assert fragment in caught.value.message


def test_order_by() -> None:
    assert grammar.parse_order_by(
        ["metrics.loss DESC", "params.p", "start_time asc"], grammar.RUNS
    ) == (
        OrderBy(Entity.METRIC, "loss", False),
        OrderBy(Entity.PARAM, "p", True),
        OrderBy(Entity.ATTRIBUTE, "start_time", True),
    )
    with pytest.raises(MlflowError):
        grammar.parse_order_by(["metrics.loss DOWN"], grammar.RUNS)


def run(run_id: str, start: int, loss: float | None, **params: str) -> Run:
    info = RunInfo(
        run_id,
        "1",
        f"name-{run_id}",
        "u",
        RunStatus.RUNNING,
        start,
        None,
        "x",
        LifecycleStage.ACTIVE,
    )
    metrics = {} if loss is None else {"loss": Metric("loss", loss, 0, 0)}
    return Run(info, metrics=metrics, params=dict(params), tags={"mlflow.user": "Ada"})


RUNS = [
    run("a", 3, 0.5, p="x1"),
    run("b", 2, None, p="y"),
    run("c", 1, 0.1),
    run("d", 4, 0.9, p="X2"),
]


def select(text: str, order: list[str] | None = None) -> list[str]:
    query = tracking.runs_query(text, order or [], None)
    return [r.info.run_id for r in query.run(RUNS, 100).items]


def test_evaluation_follows_sql_semantics() -> None:
    assert select("") == ["d", "a", "b", "c"]  # newest first
    assert select("metrics.loss > 0.2") == ["d", "a"]
    assert select("params.p != 'y'") == ["d", "a"]  # a missing param matches nothing
    assert select("params.p LIKE 'x%'") == ["a"]
    assert select("params.p ILIKE 'x%'") == ["d", "a"]
    assert select("params.p IS NULL") == ["c"]
    assert select("tags.`mlflow.user` = 'Ada' and run_id IN ('a', 'c')") == ["a", "c"]
    assert select("run_id NOT IN ('a', 'c') and start_time >= 2") == ["d", "b"]
    assert select("metrics.loss != 0.5 and params.p IS NOT NULL") == ["d"]
    assert select("", ["metrics.loss ASC"]) == ["c", "a", "d", "b"]  # missing values last
    assert select("", ["metrics.loss DESC"]) == ["d", "a", "c", "b"]


def test_page_tokens_are_opaque_and_checked() -> None:
    first = paging.page(list(range(5)), 2, None)
    assert first.items == [0, 1]
    assert first.next_page_token is not None
    assert paging.page(list(range(5)), 2, first.next_page_token).items == [2, 3]
    for bad in ("nope", paging.encode_token(-1), "eyJ4IjogMX0="):
        with pytest.raises(MlflowError):
            paging.decode_token(bad)
        with pytest.raises(MlflowError):
            tracking.runs_query("", [], bad)  # a bad token fails before anything is read


def test_dataset_filters_match_any_of_the_runs_datasets() -> None:
    train = DatasetInput("iris", "d1", "local", "{}", tags={"mlflow.data.context": "train"})
    evaluation = DatasetInput("wine", "d2", "local", "{}", tags={"mlflow.data.context": "eval"})
    with_data = dataclasses.replace(RUNS[0], datasets=(train, evaluation))
    runs = [with_data, RUNS[1]]
    for text, expected in [
        ("datasets.name = 'wine'", [with_data]),
        ("datasets.context IN ('train', 'test')", [with_data]),
        ("datasets.digest LIKE 'd%' and datasets.name != 'iris'", [with_data]),
        ("datasets.name = 'other'", []),
    ]:
        predicate = evaluate.compile_filter(parse(text), tracking.run_accessor)
        assert [r for r in runs if predicate(r)] == expected, text
