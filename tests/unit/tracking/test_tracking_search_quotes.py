"""Double-quoted string literals in every search grammar (issue 14): MLflow's UI suggests
``params.model = "tree"``, and MLflow's parser takes double quotes wherever it takes single ones.

The differential tests parse the same filters with the installed MLflow's SearchUtils family,
the reference, and compare the comparisons both extract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import (
    SearchExperimentsUtils,
    SearchLoggedModelsUtils,
    SearchModelUtils,
    SearchModelVersionUtils,
    SearchUtils,
)
from starlette.testclient import TestClient

from mlkube_operator.server.errors import MlflowError
from mlkube_operator.server.search import grammar, registry
from mlkube_operator.server.search.grammar import Comparison, Entity

Parse = Callable[[str], tuple[Comparison, ...]]


def runs(text: str) -> tuple[Comparison, ...]:
    return grammar.parse_filter(text, grammar.RUNS)


def experiments(text: str) -> tuple[Comparison, ...]:
    return grammar.parse_filter(text, grammar.EXPERIMENTS)


def logged_models(text: str) -> tuple[Comparison, ...]:
    return grammar.parse_filter(text, grammar.LOGGED_MODELS)


GRAMMARS: dict[str, tuple[Parse, Any]] = {
    "runs": (runs, SearchUtils),
    "experiments": (experiments, SearchExperimentsUtils),
    "logged models": (logged_models, SearchLoggedModelsUtils),
    "registered models": (registry.parse_model_filter, SearchModelUtils),
    "model versions": (registry.parse_version_filter, SearchModelVersionUtils),
}


def C(entity: Entity, key: str, op: str, value: Any) -> Comparison:
    return Comparison(entity, key, op, value)


A, P, T, M, D = Entity.ATTRIBUTE, Entity.PARAM, Entity.TAG, Entity.METRIC, Entity.DATASET


def test_runs() -> None:
    assert runs('params.model = "tree"') == (C(P, "model", "=", "tree"),)
    assert runs('params.model LIKE "tr%" and tags."mlflow.user" ILIKE "A%"') == (
        C(P, "model", "LIKE", "tr%"),
        C(T, "mlflow.user", "ILIKE", "A%"),
    )
    assert runs('attributes.run_id IN ("a", \'b\') AND run_id NOT IN ("c")') == (
        C(A, "run_id", "IN", ("a", "b")),
        C(A, "run_id", "NOT IN", ("c",)),
    )
    assert runs('"run_name" = "x" and datasets.name IN ("d")') == (
        C(A, "run_name", "=", "x"),
        C(D, "name", "IN", ("d",)),
    )
    assert runs('params.alpha = "0.05" AND metrics.loss < 1') == (
        C(P, "alpha", "=", "0.05"),
        C(M, "loss", "<", 1.0),
    )


def test_experiments() -> None:
    assert experiments('name LIKE "e%" AND tags.team = "risk"') == (
        C(A, "name", "LIKE", "e%"),
        C(T, "team", "=", "risk"),
    )
    assert experiments('experiment_id IN ("1", "2")') == (C(A, "experiment_id", "IN", ("1", "2")),)


def test_logged_models() -> None:
    assert logged_models('params.p = "v" AND tags.t ILIKE "V%"') == (
        C(P, "p", "=", "v"),
        C(T, "t", "ILIKE", "V%"),
    )
    assert logged_models('model_id IN ("a", "b") AND status = "READY"') == (
        C(A, "model_id", "IN", ("a", "b")),
        C(A, "status", "=", "READY"),
    )


def test_registered_models() -> None:
    assert registry.parse_model_filter('name LIKE "m%" AND tags.`a b` != "x"') == (
        C(A, "name", "LIKE", "m%"),
        C(T, "a b", "!=", "x"),
    )
    assert registry.parse_model_filter('name IN ("a", "b")') == (C(A, "name", "IN", ("a", "b")),)


def test_model_versions() -> None:
    assert registry.parse_version_filter('name = "m" AND run_id IN ("r1", "r2")') == (
        C(A, "name", "=", "m"),
        C(A, "run_id", "IN", ("r1", "r2")),
    )
    assert registry.parse_version_filter('source_path ILIKE "S3://%" AND version_number = "2"') == (
        C(A, "source_path", "ILIKE", "S3://%"),
        C(A, "version_number", "=", 2.0),
    )


def test_a_value_in_the_only_model_filter_narrows_the_read() -> None:
    assert registry.versions_query('name = "m"', [], None).only_model == "m"


# Quoted text is kept as written (MLflow drops only the outer quotes): a doubled quote or a
# backslash before a quote does not end the literal, and stays in the value.
ESCAPES = [
    'params.a = "it\'s"',
    "params.a = 'say \"hi\"'",
    'params.a = "it""s"',
    "params.a = 'it''s'",
    r'params.a = "back\"slash"',
    r"params.a = 'back\'slash'",
    r"params.a = 'ends with \\'",
    'params.a = ""',
    'tags."a""b" = "v"',
    "tags.`a``b` = 'v'",
]

DIFFERENTIAL: dict[str, list[str]] = {
    "runs": [
        'params.model = "tree"',
        'params.model != "tree" AND tags."mlflow.user" = "ada"',
        'params.model LIKE "tr%"',
        'params.model ILIKE "TR%"',
        'params.x = "a.b.c" and params.y = "%_" and params.z = "with space"',
        'tags.`my tag` = "a b"',
        '`tags`.`a b` = "v"',
        'attributes.run_id IN ("a", "b")',
        "attributes.run_id IN ('a', \"b\")",
        'run_id NOT IN ("a")',
        'attributes.run_name = "x" AND attributes.status = "FINISHED"',
        '"run_name" = "x"',
        'datasets.name IN ("d1", "d2") AND datasets.digest = "abc"',
        'metrics.loss < 0.5 AND params.model = "tree"',
        'attributes.start_time > 5 AND params.alpha = "0.05"',
        # An IN list is read as a Python literal: escapes count, adjacent strings join.
        r"""run_id IN ('it\'s', "a""b", 'x''y')""",
        # ... and, as a Python tuple, it may end with one comma (the UI's filters do).
        "attributes.run_id IN ('a',)",
        'run_id NOT IN ("a", "b", )',
        "datasets.digest IN ('d1',)",
        *ESCAPES,
    ],
    "experiments": [
        'name = "e"',
        'name LIKE "e%" AND tags.t = "v"',
        'name ILIKE "E%"',
        'tags."a.b" != "v"',
        'experiment_id IN ("1", "2")',
        "experiment_id IN ('1',)",
        'attribute.name = "x"',
        'creation_time > 5 AND name != "x"',
    ],
    "logged models": [
        'name = "m"',
        'params.p = "v" AND tags.t LIKE "v%"',
        'model_id IN ("a", "b")',
        'status = "READY" AND source_run_id = "r"',
        'name IN ("a")',
        "name IN ('a', 'b',)",
        'metrics.m > 1 AND name ILIKE "M%"',
    ],
    "registered models": [
        'name = "m"',
        'name LIKE "m%"',
        'name ILIKE "M%"',
        'name IN ("a", "b")',
        "name IN ('a',)",
        'tags.t = "v" AND tags."a.b" = "w"',
        'tags.`a b` LIKE "%x"',
        'name = "it\'s"',
    ],
    "model versions": [
        'name = "m" AND run_id = "r"',
        'run_id IN ("a", "b")',
        "run_id IN ('a', 'b',)",
        'source_path = "s3://x/y"',
        'version_number = 1 AND name LIKE "m%"',
        'version_number = "2"',
        'tags.t != "v"',
    ],
}

_MLFLOW_ENTITIES = {
    "attribute": A,
    "parameter": P,
    "param": P,
    "tag": T,
    "metric": M,
    "dataset": D,
}


def _reference(utils: Any, text: str) -> list[tuple[Entity, str, str, Any]]:
    out = []
    for found in utils.parse_search_filter(text):
        entity = _MLFLOW_ENTITIES[found["type"]]
        value = found["value"]
        if isinstance(value, list):
            value = tuple(value)
        out.append((entity, found["key"], found["comparator"].upper(), value))
    return out


def _ours(parse: Parse, text: str) -> list[tuple[Entity, str, str, Any]]:
    return [(c.entity, c.key, c.op, c.value) for c in parse(text)]


def _numbers_as_floats(items: list[tuple[Entity, str, str, Any]]) -> list[tuple[Any, ...]]:
    """MLflow keeps some numbers as the text written (metrics.m > 1 is '1'); mlkube as floats."""
    out: list[tuple[Any, ...]] = []
    for entity, key, op, value in items:
        numeric = entity is M or key == "version_number" or isinstance(value, (int, float))
        out.append((entity, key, op, float(value) if numeric else value))
    return out


CASES = [(name, text) for name, texts in DIFFERENTIAL.items() for text in texts]


@pytest.mark.parametrize(("grammar_name", "text"), CASES)
def test_same_comparisons_as_mlflow(grammar_name: str, text: str) -> None:
    parse, utils = GRAMMARS[grammar_name]
    expected = _numbers_as_floats(_reference(utils, text))
    assert expected, "the reference found no comparison"
    assert _numbers_as_floats(_ours(parse, text)) == expected


# Filters MLflow refuses stay refused: a double-quoted value is a string, never a number, and
# unquoted or backticked text is not a value.
REFUSED = [
    'metrics.loss = "1"',
    "params.a = x",
    "params.a = `x`",
    'params.a = "unterminated',
    'params.a = "x" OR params.b = "y"',
    'params.a IN ("x")',
    # One trailing comma is a tuple; two, or a comma alone, are not.
    "attributes.run_id IN ('a',,)",
    "attributes.run_id IN (,)",
    "attributes.run_id IN ()",
]


@pytest.mark.parametrize("text", REFUSED)
def test_refused_like_mlflow(text: str) -> None:
    with pytest.raises(MlflowException):
        SearchUtils.parse_search_filter(text)
    with pytest.raises(MlflowError):
        runs(text)


def test_an_ill_formed_list_item_names_itself() -> None:
    with pytest.raises(MlflowException):
        SearchUtils.parse_search_filter(r"run_id IN ('\x')")
    with pytest.raises(MlflowError) as caught:
        runs(r"run_id IN ('\x')")
    assert "list item '\\x'" in caught.value.message


def test_runs_search_over_rest(client: TestClient) -> None:
    """The issue's acceptance search, ``params.alpha = "0.05"``, filters."""
    api = "/api/2.0/mlflow"
    experiment_id = client.post(api + "/experiments/create", json={"name": "q"}).json()[
        "experiment_id"
    ]
    by_alpha = {}
    for alpha in ("0.05", "0.5", "0.05 "):
        run = client.post(api + "/runs/create", json={"experiment_id": experiment_id}).json()
        run_id = run["run"]["info"]["run_id"]
        param = {"run_id": run_id, "key": "alpha", "value": alpha}
        assert client.post(api + "/runs/log-parameter", json=param).status_code == 200
        by_alpha[alpha] = run_id

    def found(filter_string: str) -> set[str]:
        body = {"experiment_ids": [experiment_id], "filter": filter_string}
        response = client.post(api + "/runs/search", json=body)
        assert response.status_code == 200, response.text
        return {r["info"]["run_id"] for r in response.json().get("runs", [])}

    assert found('params.alpha = "0.05"') == {by_alpha["0.05"]}
    assert found('params.alpha LIKE "0.05%"') == {by_alpha["0.05"], by_alpha["0.05 "]}
    assert found(f'attributes.run_id IN ("{by_alpha["0.5"]}", "missing")') == {by_alpha["0.5"]}
    assert found("params.alpha = '0.05'") == found('params.alpha = "0.05"')
