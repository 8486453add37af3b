"""Issue 14: the artifact files MLflow's UI previews, at MLflow's paths: ``/get-artifact`` (a
run's), ``/ajax-api/2.0/mlflow/logged-models/{id}/artifacts/files`` (a logged model's) and
``/model-versions/get-artifact`` (a version's MLmodel, for its schema).

Shapes as MLflow 3.17.2's server answers them (mlflow/server/handlers.py, checked against a real
``mlflow server`` in tests/integration/tracking/test_tracking_ui_endpoints.py): the bytes as an
attachment, text formats as text/plain, ``nosniff``; mlkube adds a sandboxing CSP, so HTML and
SVG never run on the server's origin. Traversal is refused with a 400 naming the parameter.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

API = "/api/2.0/mlflow"
PUT = "/api/2.0/mlflow-artifacts/artifacts"
SANDBOX = "default-src 'none'; sandbox"


def post(client: TestClient, path: str, body: Any) -> Any:
    response = client.post(API + path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def new_run(client: TestClient) -> tuple[str, str]:
    experiment = post(client, "/experiments/create", {"name": "previews"})["experiment_id"]
    run = post(client, "/runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]
    return experiment, run


def upload(client: TestClient, path: str, data: bytes) -> None:
    response = client.put(f"{PUT}/{path}", content=data)
    assert response.status_code == 200, response.text


def run_file(client: TestClient, run_id: str, path: str, key: str = "run_uuid") -> Any:
    return client.get("/get-artifact", params={"path": path, key: run_id})


def error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


# (file name, content type MLflow sends)
TYPES = [
    ("notes.txt", "text/plain; charset=utf-8"),
    ("table.csv", "text/plain; charset=utf-8"),
    ("data.json", "text/plain; charset=utf-8"),
    ("conf.yaml", "text/plain; charset=utf-8"),
    ("model/MLmodel", "text/plain; charset=utf-8"),
    ("page.html", "text/html; charset=utf-8"),
    ("pic.svg", "image/svg+xml"),
    ("pic.png", "image/png"),
    ("blob.bin", "application/octet-stream"),
    ("no_extension", "application/octet-stream"),
]


@pytest.mark.parametrize(("name", "media"), TYPES)
def test_a_run_file_comes_back_typed_as_mlflow_types_it_and_inert(
    client: TestClient, name: str, media: str
) -> None:
    experiment, run_id = new_run(client)
    body = f"<svg><script>alert('{name}')</script></svg>".encode()
    upload(client, f"{experiment}/{run_id}/artifacts/{name}", body)

    response = run_file(client, run_id, name)

    assert response.status_code == 200, response.text
    assert response.content == body
    assert response.headers["content-type"] == media
    base = name.rsplit("/", 1)[-1]
    assert response.headers["content-disposition"] == f'attachment; filename="{base}"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == SANDBOX
    assert response.headers["content-length"] == str(len(body))


def test_run_id_works_as_well_as_the_uis_run_uuid(client: TestClient) -> None:
    experiment, run_id = new_run(client)
    upload(client, f"{experiment}/{run_id}/artifacts/a.txt", b"a")
    assert run_file(client, run_id, "a.txt", key="run_id").content == b"a"
    assert client.get("/ajax-api/2.0/mlflow/get-artifact").status_code == 404  # not MLflow's


def test_a_name_outside_latin_1_is_sent_as_rfc_5987(client: TestClient) -> None:
    experiment, run_id = new_run(client)
    upload(client, f"{experiment}/{run_id}/artifacts/r%C3%A9sum%C3%A9%22.txt", b"x")

    response = run_file(client, run_id, 'résumé".txt')

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"r_sum__.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%22.txt"
    )


def test_the_artifact_proxys_downloads_are_sent_alike(client: TestClient) -> None:
    """The stock client's downloads (mlflow-artifacts) share the sending: a name outside
    Latin-1 was a 500 there (a header Starlette could not encode)."""
    experiment, run_id = new_run(client)
    path = f"{PUT}/{experiment}/{run_id}/artifacts/%E6%97%A5%E6%9C%AC.html"
    upload(client, path.removeprefix(PUT + "/"), b"<script>1</script>")

    response = client.get(path)

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"__.html\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.html"
    )
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == SANDBOX
    assert response.headers["x-content-type-options"] == "nosniff"


# Each names a file outside the run's artifacts, directly or once %-decoded again (MLflow decodes
# until the path stops changing, and checks that).
TRAVERSALS = [
    "../extra.json",
    "a/../../extra.json",
    "/etc/passwd",
    "%2e%2e/extra.json",
    "%252e%252e%252fextra.json",
    "..%2fextra.json",
    "a\\..\\b",
    "a#b",
    "C:/x",
    "a\x00b",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_a_path_climbing_out_is_refused_naming_the_parameter(client: TestClient, path: str) -> None:
    experiment, run_id = new_run(client)
    upload(client, f"{experiment}/{run_id}/artifacts/a.txt", b"a")

    message = error(run_file(client, run_id, path), 400, "INVALID_PARAMETER_VALUE")

    assert "parameter 'path'" in message


def test_missing_and_unknown_things_are_mlflows_errors(client: TestClient) -> None:
    experiment, run_id = new_run(client)
    upload(client, f"{experiment}/{run_id}/artifacts/dir/a.txt", b"a")

    assert "'path'" in error(
        client.get("/get-artifact", params={"run_uuid": run_id}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "'run_id'" in error(
        client.get("/get-artifact", params={"path": "a.txt"}), 400, "INVALID_PARAMETER_VALUE"
    )
    error(run_file(client, "0" * 32, "a.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert "nope.txt" in error(run_file(client, run_id, "nope.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(run_file(client, run_id, "dir"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(run_file(client, run_id, "."), 400, "INVALID_PARAMETER_VALUE")


def test_a_run_with_its_own_s3_location_is_not_proxied(client: TestClient) -> None:
    experiment = post(
        client, "/experiments/create", {"name": "s3", "artifact_location": "s3://bucket/x"}
    )["experiment_id"]
    run_id = post(client, "/runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]

    message = error(run_file(client, run_id, "a.txt"), 400, "INVALID_PARAMETER_VALUE")

    assert "s3://bucket/x" in message


def new_logged_model(client: TestClient) -> tuple[str, str]:
    experiment, _ = new_run(client)
    model = post(client, "/logged-models", {"experiment_id": experiment, "name": "m"})
    return experiment, model["model"]["info"]["model_id"]


def model_file(client: TestClient, model_id: str, **params: str) -> Any:
    path = f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"
    return client.get(path, params=params)


def test_a_logged_model_file(client: TestClient) -> None:
    experiment, model_id = new_logged_model(client)
    upload(client, f"{experiment}/models/{model_id}/artifacts/MLmodel", b"flavors: {}\n")

    response = model_file(client, model_id, artifact_file_path="MLmodel")

    assert response.status_code == 200, response.text
    assert response.content == b"flavors: {}\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="MLmodel"'
    assert response.headers["content-security-policy"] == SANDBOX
    # Only where MLflow has it: under /ajax-api.
    path = f"{API}/logged-models/{model_id}/artifacts/files"
    assert client.get(path, params={"artifact_file_path": "MLmodel"}).status_code == 404


def test_a_logged_model_files_errors(client: TestClient) -> None:
    _, model_id = new_logged_model(client)

    message = error(model_file(client, model_id), 400, "BAD_REQUEST")
    assert message == 'Request must include the "artifact_file_path" query parameter.'
    message = error(
        model_file(client, model_id, artifact_file_path="../../x"), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "parameter 'artifact_file_path'" in message
    error(
        model_file(client, "m-" + "0" * 32, artifact_file_path="MLmodel"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(model_file(client, model_id, artifact_file_path="nope"), 404, "RESOURCE_DOES_NOT_EXIST")


def new_version(client: TestClient, source: str) -> None:
    post(client, "/registered-models/create", {"name": "iris"})
    post(client, "/model-versions/create", {"name": "iris", "source": source})


def version_file(client: TestClient, **params: str) -> Any:
    return client.get("/model-versions/get-artifact", params=params)


def test_a_version_file_is_read_from_where_the_version_is(client: TestClient) -> None:
    experiment, run_id = new_run(client)
    upload(client, f"{experiment}/{run_id}/artifacts/model/MLmodel", b"signature: {}\n")
    new_version(client, f"runs:/{run_id}/model")

    response = version_file(client, path="MLmodel", name="iris", version="1")

    assert response.status_code == 200, response.text
    assert response.content == b"signature: {}\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-security-policy"] == SANDBOX


def test_a_version_of_a_logged_model(client: TestClient) -> None:
    experiment, model_id = new_logged_model(client)
    upload(client, f"{experiment}/models/{model_id}/artifacts/MLmodel", b"m")
    new_version(client, f"models:/{model_id}")

    assert version_file(client, path="MLmodel", name="iris", version="1").content == b"m"


def test_a_version_files_errors(client: TestClient) -> None:
    experiment, run_id = new_run(client)
    upload(client, f"{experiment}/{run_id}/artifacts/model/MLmodel", b"m")
    new_version(client, f"runs:/{run_id}/model")

    error(
        version_file(client, path="MLmodel", name="iris", version="9"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        version_file(client, path="MLmodel", name="nope", version="1"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert "'version'" in error(
        version_file(client, path="MLmodel", name="iris", version="x"),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'version'" in error(
        version_file(client, path="MLmodel", name="iris"), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "parameter 'path'" in error(
        version_file(client, path="../MLmodel", name="iris", version="1"),
        400,
        "INVALID_PARAMETER_VALUE",
    )
