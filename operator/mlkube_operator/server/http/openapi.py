"""The tracking API as an OpenAPI 3.1 document, built from the route tables.

Paths, methods and what each needs of RBAC come from tracking_routes.py and registry_routes.py,
the request fields from request_fields.py, the error answers from errors.py: one source each,
so the document cannot describe an endpoint the server does not have. It is served without a
token (app.py): it holds no data of any workspace, only the shape of the API that the open
source package ships, as /version and the UI bundle are served (docs/security.md).

Every operation may answer 503 ``TEMPORARILY_UNAVAILABLE`` (a backend failed, or the server is
at its in-flight limit: retry) besides its own errors; nothing a client sends is answered 500.
"""

from __future__ import annotations

import re
from typing import Any

from mlkube_operator.server.auth.needs import Need
from mlkube_operator.server.errors import HTTP_STATUS, ErrorCode
from mlkube_operator.server.http.registry_routes import REGISTRY_API
from mlkube_operator.server.http.request_fields import REGISTRY, STRING, TRACKING, Request
from mlkube_operator.server.http.tracking_routes import API

Document = dict[str, Any]
ROOT = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
OPENAPI_PATH = f"{ROOT}/openapi.json"
ERROR = "#/components/schemas/Error"
# What any operation may answer besides 200: the codes a client can act on.
ERRORS = {
    400: "The request is invalid (INVALID_PARAMETER_VALUE, BAD_REQUEST, RESOURCE_ALREADY_EXISTS, "
    "INVALID_STATE); the message names the field.",
    401: "No token, or one the cluster refuses (UNAUTHENTICATED).",
    403: "RBAC does not grant the operation's need in the workspace (PERMISSION_DENIED).",
    404: "No such object in the workspace (RESOURCE_DOES_NOT_EXIST).",
    409: "The object kept changing under concurrent writers (RESOURCE_CONFLICT); retry.",
    413: "The body is larger than the server accepts.",
    429: "A limit was reached (REQUEST_LIMIT_EXCEEDED, RESOURCE_EXHAUSTED).",
    503: "A backend (the API server, object storage) failed, or the server is at its in-flight "
    "limit (TEMPORARILY_UNAVAILABLE); retry, after Retry-After when it is given.",
}
_PATH_PARAMETER = re.compile(r"{(\w+)}")


def _error_schema() -> dict[str, Any]:
    codes = sorted({code.value for code in ErrorCode if HTTP_STATUS[code] != 500})
    return {
        "type": "object",
        "properties": {"error_code": {"type": "string", "enum": codes}, "message": STRING},
        "required": ["error_code", "message"],
    }


def _error_responses() -> dict[str, Any]:
    """Each error answer once, in components; operations refer to them."""
    content = {"application/json": {"schema": {"$ref": ERROR}}}
    return {
        str(status): {"description": description, "content": content}
        for status, description in ERRORS.items()
    }


def _responses(done: dict[str, Any]) -> dict[str, Any]:
    refs = {str(status): {"$ref": f"#/components/responses/{status}"} for status in ERRORS}
    return {"200": done, **refs}


DONE = {
    "description": "Done; the body is the endpoint's response message.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
WORKSPACE = {
    "name": "X-MLFLOW-WORKSPACE",
    "in": "header",
    "required": False,
    "description": "The workspace: a Kubernetes namespace (default: the server's).",
    "schema": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"},
}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _operation(method: str, path: str, need: Need | tuple[Need, ...], request: Request) -> Any:
    needs = need if isinstance(need, tuple) else (need,)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": STRING}
        for name in _PATH_PARAMETER.findall(path)
    ]
    parameters.append(WORKSPACE)
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()} {path}",
        "summary": f"Needs {', '.join(str(n) for n in needs)} in the workspace.",
        "parameters": parameters,
        "responses": _responses(DONE),
        "security": BEARER,
    }
    if method == "GET":
        parameters += [
            {"name": name, "in": "query", "required": name in request.required, "schema": schema}
            for name, schema in request.fields.items()
        ]
    elif request.fields:
        body: dict[str, Any] = {"type": "object", "properties": request.fields}
        if request.required:
            body["required"] = list(request.required)
        operation["requestBody"] = {
            "required": bool(request.required),
            "content": {"application/json": {"schema": body}},
        }
    return operation


def _artifact_paths() -> dict[str, Any]:
    """The artifact proxy: a run's files under ``<experiment>/<run>/artifacts/``, a logged
    model's, a registry copy's, a project archive; each checked as its owner
    (tracking_routes.artifact_need)."""
    path = {"name": "path", "in": "path", "required": True, "schema": STRING}
    query = {"name": "path", "in": "query", "required": False, "schema": STRING}
    octets = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}

    def operation(name: str, parameters: list[Any], done: Any, **more: Any) -> dict[str, Any]:
        return {
            "operationId": name,
            "parameters": [*parameters, WORKSPACE],
            "responses": _responses(done),
            "security": BEARER,
            **more,
        }

    file = f"{ARTIFACTS}/{{path}}"
    return {
        ARTIFACTS: {"get": operation(f"list {ARTIFACTS}", [query], DONE)},
        file: {
            "get": operation(f"get {file}", [path], {"description": "The file's bytes."}),
            "put": operation(
                f"put {file}", [path], DONE, requestBody={"required": True, "content": octets}
            ),
            "delete": operation(f"delete {file}", [path], DONE),
        },
    }


def document(version: str) -> Document:
    """The whole document for a server of ``version``."""
    paths: dict[str, dict[str, Any]] = {}
    routes: list[tuple[str, str, Need | tuple[Need, ...], Request]] = [
        (method, path, need, TRACKING.get(path, Request())) for method, path, _, need in API
    ]
    routes += [
        (method, path, need, REGISTRY.get(path, Request()))
        for method, path, _, need in REGISTRY_API
    ]
    for method, path, need, request in routes:
        operation = _operation(method, path, need, request)
        paths.setdefault(ROOT + path, {})[method.lower()] = operation
    paths.update(_artifact_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mlkube tracking server",
            "version": version,
            "description": "MLflow's REST API (tracking, model registry, artifact proxy) as mlkube "
            "serves it; every path is also served under /ajax-api/. A workspace is a Kubernetes "
            "namespace; the token is any the cluster accepts, and RBAC decides.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": _error_schema()},
            "responses": _error_responses(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
