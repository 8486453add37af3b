"""model-versions/* over the in-memory stores: shapes, sources, stages and errors."""

from __future__ import annotations

from starlette.testclient import TestClient
from tests.unit.registry.rest import API, call, error, new_model, new_run

from mlkube.objects import MemoryObjects
from mlkube.sources import PREFIX_RULE, SPELLING_RULE, parse_allowlist
from mlkube_operator.server.auth.guard import SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore


def test_create_from_a_run_artifact_path(client: TestClient) -> None:
    experiment_id, run_id = new_run(client)
    new_model(client, "from-run")
    source = f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/model"
    body = {
        "name": "from-run",
        "source": source,
        "run_id": run_id,
        "description": "first",
        "run_link": "http://ui/run",
        "tags": [{"key": "k", "value": "v"}],
    }
    version = call(client, "POST", "/model-versions/create", body)["model_version"]
    assert version["name"] == "from-run"
    assert version["version"] == "1"
    assert version["source"] == source
    assert version["run_id"] == run_id
    assert version["run_link"] == "http://ui/run"
    assert version["current_stage"] == "None"
    assert version["status"] in ("READY", "PENDING_REGISTRATION")
    assert version["description"] == "first"
    assert version["tags"] == [{"key": "k", "value": "v"}]
    assert version["aliases"] == []
    got = call(client, "GET", "/model-versions/get", {"name": "from-run", "version": "1"})
    assert got["model_version"] == version
    uri = call(
        client, "GET", "/model-versions/get-download-uri", {"name": "from-run", "version": "1"}
    )
    assert uri == {"artifact_uri": f"runs:/{run_id}/model"}


def test_create_from_a_logged_model_links_it(client: TestClient) -> None:
    """register_model's sequence in MLflow 3: create the version from models:/<id> (the server
    records it on the logged model, as MLflow's does), then the client PATCHes the tag too."""
    experiment_id, run_id = new_run(client)
    logged = call(
        client,
        "POST",
        "/logged-models",
        {"experiment_id": experiment_id, "name": "model", "source_run_id": run_id},
    )["model"]["info"]
    model_id = logged["model_id"]
    new_model(client, "from-logged")
    body = {"name": "from-logged", "source": f"models:/{model_id}", "model_id": model_id}
    version = call(client, "POST", "/model-versions/create", body)["model_version"]
    assert (version["model_id"], version["run_id"]) == (model_id, run_id)
    link = {"key": "mlflow.modelVersions", "value": '[{"name": "from-logged", "version": "1"}]'}
    info = call(client, "GET", f"/logged-models/{model_id}")["model"]["info"]
    assert link in info["tags"]
    value = '[{"name": "from-logged", "version": "1"}, {"name": "from-logged", "version": "1"}]'
    patched = call(
        client,
        "PATCH",
        f"/logged-models/{model_id}/tags",
        {"tags": [{"key": "mlflow.modelVersions", "value": value}]},
    )
    assert {"key": "mlflow.modelVersions", "value": value} in patched["model"]["info"]["tags"]
    uri = call(
        client, "GET", "/model-versions/get-download-uri", {"name": "from-logged", "version": "1"}
    )
    assert uri == {"artifact_uri": f"models:/{model_id}"}


def test_create_from_another_registered_version(client: TestClient) -> None:
    new_model(client, "origin", versions=2)
    call(
        client,
        "POST",
        "/registered-models/alias",
        {"name": "origin", "alias": "best", "version": "1"},
    )
    new_model(client, "copy")
    for source, expected in [
        ("models:/origin/2", "models:/origin/2"),
        ("models:/origin@best", "models:/origin/1"),
    ]:
        version = call(client, "POST", "/model-versions/create", {"name": "copy", "source": source})
        assert version["model_version"]["source"] == expected


def test_sources_that_name_nothing_here_are_refused(client: TestClient) -> None:
    experiment_id, run_id = new_run(client)
    new_model(client, "refused")
    other_run = "f" * 32
    for source in [
        "file:///etc/passwd",
        "/tmp/model",
        "hdfs://cluster/model",
        f"runs:/{other_run}/model",
        f"runs:/{run_id}/../../secrets",
        f"runs:/{run_id}/%2e%2e/secrets",
        f"mlflow-artifacts:/{experiment_id}/{other_run}/artifacts/model",
        f"mlflow-artifacts:/{experiment_id}/{run_id}/other/model",
        "models:/m-" + "0" * 32,
        "models:/nobody@champion",
        "runs://elsewhere/" + run_id + "/model",
    ]:
        body = {"name": "refused", "source": source}
        code = error(
            client, "POST", "/model-versions/create", body, 404 if "nobody" in source else 400
        )
        assert code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"), source
    body = {"name": "refused", "source": f"runs:/{run_id}/model", "run_id": other_run}
    assert error(client, "POST", "/model-versions/create", body) == "INVALID_PARAMETER_VALUE"
    body = {"name": "refused", "source": "s3://memory/default/key", "run_id": "not-a-run"}
    assert error(client, "POST", "/model-versions/create", body) == "INVALID_PARAMETER_VALUE"
    assert error(client, "POST", "/model-versions/create", {"name": "refused"}) == (
        "INVALID_PARAMETER_VALUE"
    )
    body = {"name": "nobody", "source": "s3://memory/default/key"}
    assert error(client, "POST", "/model-versions/create", body, 404) == "RESOURCE_DOES_NOT_EXIST"


def test_allowlisted_s3_sources_are_copied_as_they_are() -> None:
    allowlist = parse_allowlist(["s3://data/models/"])
    services = Services(
        InMemoryStore(),
        MemoryObjects(),
        "default",
        "0.1.0",
        SingleUser(lambda: ["default"]),
        source_allowlist=allowlist,
    )
    with TestClient(build_app(services, InMemoryRegistryStore())) as client:
        new_model(client, "s3")
        body = {"name": "s3", "source": "s3://data/models/iris/"}
        version = call(client, "POST", "/model-versions/create", body)["model_version"]
        assert version["source"] == "s3://data/models/iris/"
        query = {"name": "s3", "version": "1"}
        uri = call(client, "GET", "/model-versions/get-download-uri", query)
        assert uri == {"artifact_uri": "s3://data/models/iris"}


def test_version_numbers_must_be_numbers(client: TestClient) -> None:
    new_model(client, "numbers", versions=1)
    for version in ("one", "1.5", ""):
        body = {"name": "numbers", "version": version}
        assert error(client, "GET", "/model-versions/get", body) == "INVALID_PARAMETER_VALUE", (
            version
        )
    for version in ("7", "0", "-1"):
        body = {"name": "numbers", "version": version}
        assert error(client, "GET", "/model-versions/get", body, 404) == "RESOURCE_DOES_NOT_EXIST"


def test_update_tags_and_delete(client: TestClient) -> None:
    new_model(client, "edited", versions=2)
    body = {"name": "edited", "version": "1", "description": "better"}
    assert (
        call(client, "PATCH", "/model-versions/update", body)["model_version"]["description"]
        == "better"
    )
    call(
        client,
        "POST",
        "/model-versions/set-tag",
        {"name": "edited", "version": "1", "key": "k", "value": "v"},
    )
    call(
        client,
        "POST",
        "/model-versions/set-tag",
        {"name": "edited", "version": "1", "key": "x", "value": ""},
    )
    call(
        client,
        "DELETE",
        "/model-versions/delete-tag",
        {"name": "edited", "version": "1", "key": "x"},
    )
    got = call(client, "GET", "/model-versions/get", {"name": "edited", "version": "1"})[
        "model_version"
    ]
    assert got["tags"] == [{"key": "k", "value": "v"}]
    body = {"name": "edited", "version": "1", "key": "k", "value": "v" * 100_001}
    assert error(client, "POST", "/model-versions/set-tag", body) == "INVALID_PARAMETER_VALUE"
    call(client, "DELETE", "/model-versions/delete", {"name": "edited", "version": "1"})
    body = {"name": "edited", "version": "1"}
    assert error(client, "GET", "/model-versions/get", body, 404) == "RESOURCE_DOES_NOT_EXIST"
    assert error(client, "DELETE", "/model-versions/delete", body, 404) == "RESOURCE_DOES_NOT_EXIST"


def test_transition_stage_archives_others(client: TestClient) -> None:
    new_model(client, "stages", versions=3)
    for version in ("1", "2"):
        body = {"name": "stages", "version": version, "stage": "Production"}
        call(client, "POST", "/model-versions/transition-stage", body)
    archiving = {
        "name": "stages",
        "version": "3",
        "stage": "production",
        "archive_existing_versions": True,
    }
    moved = call(client, "POST", "/model-versions/transition-stage", archiving)["model_version"]
    assert moved["current_stage"] == "Production"
    found = call(client, "GET", "/model-versions/search", {"filter": "name = 'stages'"})
    stages = {v["version"]: v["current_stage"] for v in found["model_versions"]}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Production"}


def test_invalid_transitions_are_400(client: TestClient) -> None:
    new_model(client, "bad-stage", versions=1)
    for body in [
        {"name": "bad-stage", "version": "1", "stage": "Live"},
        {"name": "bad-stage", "version": "1"},
        {"name": "bad-stage", "version": "1", "stage": "None", "archive_existing_versions": True},
        {
            "name": "bad-stage",
            "version": "1",
            "stage": "Archived",
            "archive_existing_versions": True,
        },
        {
            "name": "bad-stage",
            "version": "1",
            "stage": "Staging",
            "archive_existing_versions": "yes",
        },
    ]:
        assert error(client, "POST", "/model-versions/transition-stage", body) == (
            "INVALID_PARAMETER_VALUE"
        ), body


def test_s3_sources_follow_the_operators_rule_and_the_refusal_names_it() -> None:
    """Issue 13: the server reads and checks an s3:// source with mlkube.sources, as the
    operator does, so a source the server accepts is one the operator copies."""
    allowlist = parse_allowlist(["s3://shared/models/"])
    services = Services(
        InMemoryStore(),
        MemoryObjects("mlkube"),
        "team-a",
        "0.1.0",
        SingleUser(lambda: ["team-a"]),
        source_allowlist=allowlist,
    )
    with TestClient(build_app(services, InMemoryRegistryStore())) as client:
        new_model(client, "s3")
        refused = {
            "s3://mlkube/team-b/models/x/1": PREFIX_RULE,
            "s3://mlkube/team-a-2/x": PREFIX_RULE,
            "s3://mlkube/team-ab/x": PREFIX_RULE,
            "s3://elsewhere/team-a/model": PREFIX_RULE,
            "s3://shared/other/model": PREFIX_RULE,
            "s3://MLKUBE/team-a/model": SPELLING_RULE,
            "s3://mlkube:9000/team-a/model": SPELLING_RULE,
            "s3://x@mlkube/team-a/model": SPELLING_RULE,
            "s3://mlkube/team-a/%2e%2e/team-b/model": SPELLING_RULE,
            "s3://mlkube/team-a/../team-b/model": SPELLING_RULE,
            "S3://mlkube/team-a/model": SPELLING_RULE,
        }
        for source, rule in refused.items():
            response = client.post(
                f"{API}/model-versions/create", json={"name": "s3", "source": source}
            )
            assert response.status_code == 400, source
            answer = response.json()
            assert answer["error_code"] == "INVALID_PARAMETER_VALUE", source
            assert rule in answer["message"], (source, answer["message"])
        for source in ("s3://mlkube/team-a/data/model", "s3://shared/models/iris/"):
            call(client, "POST", "/model-versions/create", {"name": "s3", "source": source})
