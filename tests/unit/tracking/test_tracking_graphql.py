"""Issue 14: MLflow's web UI posts four GraphQL queries to /graphql; mlkube answers each as its REST
twin does (the same handlers, the same Needs) in MLflow's GraphQL shape, and bounds the rest.

The queries are the installed bundle's own, with the ``__typename`` fields Apollo adds, and the
variables the UI fills in (graphql_ui.py); the data is logged through the REST API and every
answer is compared with the REST endpoint's. tests/integration/tracking/test_tracking_graphql.py
compares the same replies with MLflow's own server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import GraphQLObjectType as ObjectType
from graphql import TypeInfo, TypeInfoVisitor, Visitor, parse, validate, visit
from starlette.testclient import TestClient
from tests.unit.auth.fake_kube import POD_TOKEN, USER_TOKEN, FakeKube, allow, bearer
from tests.unit.tracking.graphql_ui import QUERIES, as_apollo_sends, bundle_queries, ui_request

from mlkube.objects import MemoryObjects
from mlkube_operator.server.auth.guard import KubernetesGuard, SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.bounds import Bounds
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.http.graphql_fields import SCHEMA
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore

API = "/api/2.0/mlflow"


@dataclass(frozen=True)
class Logged:
    experiment_id: str
    run_id: str  # finished: params, a metric history, a NaN, a dataset, a registered version
    running_id: str  # still running: no end time


def rest(client: TestClient, method: str, path: str, headers: Any = None, **fields: Any) -> Any:
    if method == "GET":
        response = client.get(API + path, params=fields, headers=headers)
    else:
        response = client.post(API + path, json=fields, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def log_data(client: TestClient, headers: Any = None) -> Logged:
    def call(method: str, path: str, **fields: Any) -> Any:
        return rest(client, method, path, headers, **fields)

    tags = [{"key": "team", "value": "risk"}]
    experiment_id = call("POST", "/experiments/create", name="iris", tags=tags)["experiment_id"]
    run_tags = [{"key": "mlflow.user", "value": "ada"}]
    made = call("POST", "/runs/create", experiment_id=experiment_id, run_name="a", tags=run_tags)
    run_id = made["run"]["info"]["run_id"]
    metrics = [
        {"key": "loss", "value": 1 / (s + 1), "timestamp": 1_700_000_000_000 + s, "step": s}
        for s in range(10)
    ]
    metrics.append({"key": "odd", "value": "NaN", "timestamp": 1_700_000_000_000, "step": 0})
    params = [{"key": "alpha", "value": "0.5"}]
    call("POST", "/runs/log-batch", run_id=run_id, metrics=metrics, params=params)
    dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "{}"}
    context = [{"key": "mlflow.data.context", "value": "train"}]
    call(
        "POST", "/runs/log-inputs", run_id=run_id, datasets=[{"dataset": dataset, "tags": context}]
    )
    call("POST", "/runs/update", run_id=run_id, status="FINISHED", end_time=1_700_000_100_000)
    mlmodel = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/m/MLmodel"
    assert client.put(mlmodel, content=b"flavors: {}\n", headers=headers).status_code == 200
    call("POST", "/registered-models/create", name="iris")
    call("POST", "/model-versions/create", name="iris", source=f"runs:/{run_id}/m", run_id=run_id)
    running = call("POST", "/runs/create", experiment_id=experiment_id, run_name="b")
    return Logged(experiment_id, run_id, running["run"]["info"]["run_id"])


@pytest.fixture
def logged(client: TestClient) -> Logged:
    return log_data(client)


def ask(client: TestClient, body: Any, headers: Any = None) -> Any:
    response = client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def answer(client: TestClient, name: str, headers: Any = None, **values: Any) -> Any:
    """The root field's answer to the UI's query ``name``; the reply has no errors."""
    reply = ask(client, ui_request(name, **values), headers)
    assert reply["errors"] is None, reply
    (field,) = reply["data"].values()
    return field


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def assert_same(got: Any, rest_value: Any, where: str = "") -> None:
    """``got`` (GraphQL) carries ``rest_value`` (REST JSON): camelCase for snake_case, 64-bit
    integers as strings, non-finite doubles as null; a field REST leaves out reads as protobuf's
    default, as in MLflow's replies. ``__typename`` and the fields a run adds are checked apart."""
    if isinstance(got, dict):
        assert isinstance(rest_value, dict), where
        for key, value in got.items():
            if key in ("__typename", "experiment", "modelVersions"):
                continue
            if snake(key) not in rest_value:
                assert value in ("", "0", [], None), f"{where}.{key}: {value!r}"
                continue
            assert_same(value, rest_value[snake(key)], f"{where}.{key}")
    elif isinstance(got, list):
        assert isinstance(rest_value, list), where
        assert len(got) == len(rest_value), where
        for i, (one, other) in enumerate(zip(got, rest_value, strict=True)):
            assert_same(one, other, f"{where}[{i}]")
    elif isinstance(rest_value, int) and not isinstance(rest_value, bool):
        assert got == str(rest_value), f"{where}: {got!r} is not {rest_value} as a string"
    elif rest_value in ("NaN", "Infinity", "-Infinity"):
        assert got is None, where
    else:
        assert got == rest_value, where


# ---- the schema is the bundle's


def test_the_bundle_sends_four_queries_and_the_schema_takes_each_as_sent() -> None:
    queries = bundle_queries()

    assert set(queries) == QUERIES
    for name, query in queries.items():
        assert validate(SCHEMA, parse(as_apollo_sends(query))) == [], name


class _Selected(Visitor):
    """Collects (type, field) of every field a document selects."""

    def __init__(self, info: TypeInfo) -> None:
        super().__init__()
        self.info = info
        self.found: set[tuple[str, str]] = set()

    def enter_field(self, node: Any, *_: Any) -> None:
        parent = self.info.get_parent_type()
        if parent is not None and not node.name.value.startswith("__"):
            self.found.add((parent.name, node.name.value))


def test_the_schema_holds_exactly_the_fields_the_four_queries_select() -> None:
    selected: set[tuple[str, str]] = set()
    for query in bundle_queries().values():
        info = TypeInfo(SCHEMA)
        collector = _Selected(info)
        visit(parse(query), TypeInfoVisitor(info, collector))
        selected |= collector.found
    declared = {
        (kind.name, field)
        for kind in SCHEMA.type_map.values()
        if isinstance(kind, ObjectType) and not kind.name.startswith("__")
        for field in kind.fields
    }

    assert declared == selected


# ---- the four queries answer what REST does


def test_the_experiment_query_answers_experiments_get(client: TestClient, logged: Logged) -> None:
    got = answer(client, "MlflowGetExperimentQuery", experiment_id=logged.experiment_id)
    expected = rest(client, "GET", "/experiments/get", experiment_id=logged.experiment_id)

    assert got["apiError"] is None
    assert_same(got["experiment"], expected["experiment"])
    tag = {"key": "team", "value": "risk", "__typename": "MlflowExperimentTag"}
    assert got["experiment"]["tags"] == [tag]


def test_the_run_query_answers_runs_get_with_the_experiment_and_versions(
    client: TestClient, logged: Logged
) -> None:
    got = answer(client, "GetRun", run_id=logged.run_id)
    expected = rest(client, "GET", "/runs/get", run_id=logged.run_id)["run"]
    experiment = rest(client, "GET", "/experiments/get", experiment_id=logged.experiment_id)
    versions = rest(client, "GET", "/model-versions/search", filter=f"run_id='{logged.run_id}'")

    assert got["apiError"] is None
    assert_same(got["run"], expected)
    assert_same(got["run"]["experiment"], experiment["experiment"])
    assert_same(got["run"]["modelVersions"], versions["model_versions"])
    assert [(v["name"], v["version"], v["status"]) for v in got["run"]["modelVersions"]] == [
        ("iris", "1", "READY")
    ]
    assert got["run"]["inputs"]["datasetInputs"][0]["dataset"]["sourceType"] == "local"


def test_the_search_query_answers_runs_search_with_the_uis_filter(
    client: TestClient, logged: Logged
) -> None:
    got = answer(client, "SearchRuns", experiment_id=logged.experiment_id, run_id=logged.running_id)
    expected = rest(
        client,
        "POST",
        "/runs/search",
        experiment_ids=[logged.experiment_id],
        filter=f"attributes.run_id = '{logged.running_id}'",
    )

    assert got["apiError"] is None
    assert [r["info"]["runUuid"] for r in got["runs"]] == [logged.running_id]
    assert_same(got["runs"], expected["runs"])
    assert got["runs"][0]["modelVersions"] == []


@pytest.mark.parametrize("steps", [None, (2, 6)])
def test_the_sampled_history_query_answers_get_history_bulk_interval(
    client: TestClient, logged: Logged, steps: tuple[int, int] | None
) -> None:
    run_ids = [logged.run_id, logged.running_id]
    got = answer(
        client, "GetMetricHistoryBulkInterval", run_ids=run_ids, metric_key="loss", steps=steps
    )
    window = {"start_step": steps[0], "end_step": steps[1]} if steps else {}
    expected = rest(
        client,
        "GET",
        "/metrics/get-history-bulk-interval",
        run_ids=run_ids,
        metric_key="loss",
        max_results=320,
        **window,
    )

    assert got["apiError"] is None
    assert_same(got["metrics"], expected["metrics"])
    first, last = steps or (0, 9)
    assert [m["step"] for m in got["metrics"]] == [str(s) for s in range(first, last + 1)]


# ---- MLflow's shape


def test_replies_are_mlflows_camel_case_with_64_bit_integers_as_strings(
    client: TestClient, logged: Logged
) -> None:
    reply = ask(client, ui_request("GetRun", run_id=logged.running_id))
    run = reply["data"]["mlflowGetRun"]["run"]
    finished = answer(client, "GetRun", run_id=logged.run_id)["run"]

    assert reply["errors"] is None
    assert reply["data"]["mlflowGetRun"]["__typename"] == "MlflowGetRunResponse"
    assert run["__typename"] == "MlflowRunExtension"
    assert run["info"]["status"] == "RUNNING"
    assert re.fullmatch(r"[0-9]{13}", run["info"]["startTime"])
    # MLflow reads an unset end time as protobuf's 0 (REST leaves it out).
    assert run["info"]["endTime"] == "0"
    assert finished["info"]["endTime"] == "1700000100000"
    metrics = {m["key"]: m for m in finished["data"]["metrics"]}
    assert metrics["loss"]["step"] == "9"
    assert metrics["loss"]["timestamp"] == "1700000000009"
    assert math.isclose(metrics["loss"]["value"], 0.1)
    assert metrics["odd"]["value"] is None  # NaN, which GraphQL's Float cannot carry
    assert run["experiment"]["lastUpdateTime"].isdigit()
    sampled = answer(
        client, "GetMetricHistoryBulkInterval", run_ids=[logged.run_id], metric_key="odd"
    )
    assert sampled["__typename"] == "MlflowGetMetricHistoryBulkIntervalResponse"
    assert [(m["runId"], m["value"]) for m in sampled["metrics"]] == [(logged.run_id, None)]


def test_a_missing_run_or_experiment_is_an_api_error_with_rests_code_and_message(
    client: TestClient,
) -> None:
    missing_run = "0" * 32
    run_error = client.get(f"{API}/runs/get", params={"run_id": missing_run}).json()
    experiment_error = client.get(f"{API}/experiments/get", params={"experiment_id": "999"}).json()

    run = ask(client, ui_request("GetRun", run_id=missing_run))
    experiment = ask(client, ui_request("MlflowGetExperimentQuery", experiment_id="999"))

    assert run == {
        "data": {
            "mlflowGetRun": {
                "apiError": {
                    "helpUrl": None,
                    "code": "RESOURCE_DOES_NOT_EXIST",
                    "message": run_error["message"],
                    "__typename": "ApiError",
                },
                "run": None,
                "__typename": "MlflowGetRunResponse",
            }
        },
        "errors": None,
    }
    assert experiment["errors"] is None
    assert experiment["data"]["mlflowGetExperiment"]["experiment"] is None
    api_error = experiment["data"]["mlflowGetExperiment"]["apiError"]
    assert (api_error["code"], api_error["message"]) == (
        experiment_error["error_code"],
        experiment_error["message"],
    )


def test_an_invalid_input_is_refused_as_rest_refuses_it(client: TestClient) -> None:
    refused = client.get(f"{API}/metrics/get-history-bulk-interval", params={"metric_key": "x"})

    got = answer(client, "GetMetricHistoryBulkInterval", run_ids=[], metric_key="x")

    assert refused.status_code == 400
    assert got["metrics"] is None
    assert got["apiError"]["code"] == "INVALID_PARAMETER_VALUE"
    assert got["apiError"]["message"] == refused.json()["message"]


# ---- who may ask


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def guarded(kube: FakeKube) -> Iterator[TestClient]:
    """The whole API behind the Kubernetes guard, workspace ``a``, with data the run pod's
    identity logged; ``alice`` (USER_TOKEN) has no rights until a test grants them."""
    guard = KubernetesGuard(kube, ["mlkube"])  # type: ignore[arg-type]
    services = Services(InMemoryStore(), MemoryObjects(), "a", "0.1.0", guard)
    writer = [
        ("create", "experiments"),
        ("create", "runs"),
        ("update", "runs"),
        ("create", "registeredmodels"),
        ("create", "modelversions"),
        ("get", "runs"),
        ("get", "loggedmodels"),
    ]
    allow(kube, "mlkube-run", "a", *writer)
    with TestClient(build_app(services, InMemoryRegistryStore())) as test_client:
        yield test_client


EVERYTHING = [
    ("get", "experiments"),
    ("get", "runs"),
    ("list", "runs"),
    ("list", "modelversions"),
]


def test_no_token_is_401_exactly_as_rest(guarded: TestClient) -> None:
    workspace = {"X-MLFLOW-WORKSPACE": "a"}
    by_rest = guarded.get(f"{API}/runs/get", params={"run_id": "0" * 32}, headers=workspace)

    by_graphql = guarded.post(
        "/graphql", json=ui_request("GetRun", run_id="0" * 32), headers=workspace
    )

    assert by_graphql.status_code == by_rest.status_code == 401
    assert by_graphql.json() == by_rest.json()


@pytest.mark.parametrize(
    ("name", "need", "twin"),
    [
        ("MlflowGetExperimentQuery", ("get", "experiments"), "/experiments/get"),
        ("GetRun", ("get", "runs"), "/runs/get"),
        ("SearchRuns", ("list", "runs"), "/runs/search"),
        ("GetMetricHistoryBulkInterval", ("get", "runs"), "/metrics/get-history-bulk-interval"),
    ],
)
def test_each_query_needs_what_its_rest_twin_needs_and_without_it_gets_no_data(
    guarded: TestClient, kube: FakeKube, name: str, need: tuple[str, str], twin: str
) -> None:
    data = log_data(guarded, bearer(POD_TOKEN))
    allow(kube, "alice", "a", *(n for n in EVERYTHING if n != need))
    method = "POST" if twin == "/runs/search" else "GET"
    refused = guarded.request(method, API + twin, headers=bearer(USER_TOKEN))
    values = {
        "experiment_id": data.experiment_id,
        "run_id": data.run_id,
        "run_ids": [data.run_id],
        "metric_key": "loss",
    }

    reply = ask(guarded, ui_request(name, **values), bearer(USER_TOKEN))

    assert refused.status_code == 403
    (field,) = reply["data"].values()
    assert reply["errors"] is None
    assert field["apiError"]["code"] == "PERMISSION_DENIED"
    assert field["apiError"]["message"] == refused.json()["message"]
    assert [value for key, value in field.items() if key not in ("apiError", "__typename")] == [
        None
    ]


def test_the_root_field_with_its_need_granted_answers(guarded: TestClient, kube: FakeKube) -> None:
    data = log_data(guarded, bearer(POD_TOKEN))
    allow(kube, "alice", "a", *EVERYTHING)

    got = answer(guarded, "GetRun", bearer(USER_TOKEN), run_id=data.run_id)

    assert got["apiError"] is None
    assert got["run"]["info"]["runUuid"] == data.run_id
    assert got["run"]["experiment"]["experimentId"] == data.experiment_id


def test_a_run_whose_experiment_the_caller_may_not_read_comes_without_it(
    guarded: TestClient, kube: FakeKube
) -> None:
    data = log_data(guarded, bearer(POD_TOKEN))
    allow(kube, "alice", "a", ("get", "runs"), ("list", "modelversions"))

    reply = ask(guarded, ui_request("GetRun", run_id=data.run_id), bearer(USER_TOKEN))

    run = reply["data"]["mlflowGetRun"]["run"]
    assert run["info"]["runUuid"] == data.run_id
    assert run["experiment"] is None
    assert reply["errors"] == [
        "system:serviceaccount:a:alice may not get experiments.mlkube.io in namespace a (no rule "
        "allows it); ask an administrator of a for a RoleBinding that grants it (the chart's "
        "mlkube-edit and mlkube-view ClusterRoles hold mlkube's rights)"
    ]


def test_rights_are_asked_in_the_requests_workspace(guarded: TestClient, kube: FakeKube) -> None:
    allow(kube, "alice", "a", *EVERYTHING)

    reply = ask(guarded, ui_request("GetRun", run_id="0" * 32), bearer(USER_TOKEN, workspace="b"))

    api_error = reply["data"]["mlflowGetRun"]["apiError"]
    assert api_error["code"] == "PERMISSION_DENIED"
    assert "in namespace b" in api_error["message"]


def test_a_refused_query_is_not_run_so_asks_nothing_of_rbac(
    guarded: TestClient, kube: FakeKube
) -> None:
    root_fields = " ".join(
        f'r{i}: mlflowGetRun(input: {{runId: "{i}"}}) {{ apiError {{ code }} }}' for i in range(11)
    )

    reply = ask(guarded, {"query": f"{{ {root_fields} }}"}, bearer(POD_TOKEN))

    assert reply["data"] is None
    assert kube.access_reviews == 0


# ---- bounds


def refusal(client: TestClient, query: str) -> str:
    reply = ask(client, {"query": query})
    assert reply["data"] is None
    (message,) = reply["errors"]
    assert isinstance(message, str)
    return message


def test_a_batch_is_refused_as_a_bad_request(client: TestClient) -> None:
    response = client.post("/graphql", json=[{"query": "{ __typename }"}] * 2)

    assert response.status_code == 400
    assert response.json() == {
        "error_code": "BAD_REQUEST",
        "message": "the request body must be a JSON object, not an array",
    }


def test_several_operations_in_one_document_are_refused(client: TestClient) -> None:
    message = refusal(client, "query A { __typename } query B { __typename }")

    assert "exactly one GraphQL operation, this one has 2" in message


def test_a_query_nested_too_deep_is_refused(client: TestClient) -> None:
    message = refusal(client, "{ a " + "{ b " * 10 + "}" * 11)

    assert message.startswith("a GraphQL query may nest at most 10 levels")


def test_too_many_root_fields_or_aliases_are_refused(client: TestClient) -> None:
    roots = " ".join(f"t{i}: __typename" for i in range(11))
    aliases = " ".join(f"c{i}: code" for i in range(11))
    nested = f'{{ mlflowGetRun(input: {{runId: "x"}}) {{ apiError {{ {aliases} }} }} }}'

    assert "at most 10 root fields, this one has 11" in refusal(client, f"{{ {roots} }}")
    assert "alias at most 10 fields, this one aliases 11" in refusal(client, nested)


def test_fragments_that_multiply_are_refused_before_they_are_opened(client: TestClient) -> None:
    chain = " ".join(
        f"fragment F{i} on MlflowGetRunResponse {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40)
    )
    query = f'{{ mlflowGetRun(input: {{runId: "x"}}) {{ ...F0 }} }} {chain} '
    query += "fragment F40 on MlflowGetRunResponse { __typename }"

    assert "at most 1000 fields" in refusal(client, query)


def test_a_query_of_too_many_tokens_is_refused_while_parsed(client: TestClient) -> None:
    message = refusal(client, "{ " + "__typename " * 10_000 + "}")

    assert "more than 10000 tokens" in message


def test_introspection_is_refused_but_typename_answered(client: TestClient) -> None:
    reply = ask(client, {"query": "{ __schema { queryType { name } } }"})

    assert reply["data"] is None
    assert "introspection has been disabled" in reply["errors"][0]
    assert ask(client, {"query": "{ __typename }"}) == {
        "data": {"__typename": "Query"},
        "errors": None,
    }


def test_a_syntax_error_or_an_unknown_field_is_a_graphql_error(client: TestClient) -> None:
    assert refusal(client, "query {").startswith("Syntax Error")
    assert "Cannot query field 'nope'" in refusal(client, "{ nope }")


def test_a_body_that_is_no_graphql_request_is_refused_as_rest_refuses_it(
    client: TestClient,
) -> None:
    no_query = client.post("/graphql", json={"variables": {}})
    get = client.get("/graphql", params={"query": "{ __typename }"})

    assert no_query.status_code == 400
    assert no_query.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'query'" in no_query.json()["message"]
    assert get.status_code == 405


def test_the_body_is_bounded_as_every_json_request() -> None:
    services = Services(
        InMemoryStore(),
        MemoryObjects(),
        "default",
        "0.1.0",
        SingleUser(lambda: ["default"]),
        bounds=Bounds(max_json_bytes=1024),
    )
    with TestClient(build_app(services)) as small:
        response = small.post("/graphql", json={"query": "{ __typename }", "pad": "x" * 2048})

    assert response.status_code == 413
    assert response.json()["error_code"] == "RESOURCE_EXHAUSTED"
