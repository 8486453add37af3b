"""The Starlette application: MLflow's routes under /api/2.0 and /ajax-api/2.0, one error shape.

Handlers are plain functions of a ``Call``; the wrapper here reads the workspace and the fields,
runs the handler in a worker thread (stores block on the network) and turns every failure into
MLflow's ``{"error_code", "message"}`` body. Nothing a client sends can produce a 500 except a
fault of the server or its backends.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from mlkube.layout import NAMESPACE, ArtifactPath
from mlkube_operator.server.auth.needs import EXPERIMENTS, Need, get, list_
from mlkube_operator.server.errors import ErrorCode, MlflowError, invalid
from mlkube_operator.server.http import (
    artifact_files,
    artifacts,
    bodies,
    graphql_query,
    openapi,
    telemetry,
)
from mlkube_operator.server.http.bounds import Bounds
from mlkube_operator.server.http.busy import InFlightLimit
from mlkube_operator.server.http.call import Call, Services
from mlkube_operator.server.http.failures import failure_of
from mlkube_operator.server.http.fields import Fields
from mlkube_operator.server.http.graphql_fields import Asker
from mlkube_operator.server.http.query_string import query_of
from mlkube_operator.server.http.registry_call import RegistryCall, RegistryHandler
from mlkube_operator.server.http.registry_routes import (
    REGISTRY_API,
    REGISTRY_FILES,
    VersionFileResolver,
)
from mlkube_operator.server.http.serialize import JsonResponse
from mlkube_operator.server.http.tracking_routes import (
    API,
    API_3,
    ARTIFACT_OWNERS,
    FILES,
    UI_API,
    FileResolver,
    Handler,
    artifact_need,
)
from mlkube_operator.server.http.ui import ui_routes
from mlkube_operator.server.metrics import REFUSED
from mlkube_operator.server.store.registry.base import RegistryStore

log = logging.getLogger("mlkube.server")

WORKSPACE_HEADER = "x-mlflow-workspace"
Endpoint = Callable[[Request], Awaitable[Response]]


def error_response(err: MlflowError) -> Response:
    # After refusing a body (too large, too slow) the rest of it is never read: close the
    # connection instead of draining it.
    refused_body = err.http_status in (bodies.TOO_LARGE, bodies.TOO_SLOW)
    if refused_body:
        REFUSED.labels("too large" if err.http_status == bodies.TOO_LARGE else "too slow").inc()
    headers = {"Connection": "close"} if refused_body else None
    return JsonResponse(err.to_json(), status_code=err.http_status, headers=headers)


def workspace_of(request: Request, services: Services) -> str:
    value = request.headers.get(WORKSPACE_HEADER)
    if not value:
        return services.default_workspace
    if not NAMESPACE.fullmatch(value):
        raise invalid(
            f"invalid workspace {value[:80]!r} in the X-MLFLOW-WORKSPACE header: a workspace is "
            "a Kubernetes namespace name (lower-case letters, digits and '-')"
        )
    return value


async def fields_of(request: Request, bounds: Bounds) -> Fields:
    if request.method == "GET":
        return Fields.from_query(query_of(request))
    body = await bodies.read_body(request, bounds.json_body())
    if request.method == "DELETE" and not body.strip():
        # MLflow's clients send a DELETE's fields as a JSON body; bare DELETEs use the query.
        return Fields.from_query(query_of(request))
    if not body.strip():
        return Fields({})
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise MlflowError(
            ErrorCode.BAD_REQUEST, f"the request body is not valid JSON: {err}"
        ) from None
    if not isinstance(data, dict):
        # A JSON array here is also a batch of GraphQL queries, which are not served either.
        kind = "an array" if isinstance(data, list) else "a single value"
        raise MlflowError(
            ErrorCode.BAD_REQUEST, f"the request body must be a JSON object, not {kind}"
        )
    if _SURROGATE_ESCAPE.search(body):
        where = _lone_surrogate(data, "")
        if where is not None:
            raise invalid(
                f"{where or 'the request body'}: holds a lone UTF-16 surrogate (\\ud800-\\udfff), "
                "which is not a character; send valid Unicode"
            )
    return Fields(data)


# A JSON escape of a surrogate; pairs decode to one character, lone ones stay and could not be
# stored or answered as UTF-8 later (issue 13: one made every search of its workspace a 500).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first string (or key) in ``value`` holding a lone surrogate, else None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            found = _lone_surrogate(key, inner) or _lone_surrogate(item, inner)
            if found is not None:
                return found
    return None


def guarded(endpoint: Endpoint) -> Endpoint:
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except MlflowError as err:
            return error_response(err)
        except ClientDisconnect:  # gone mid-body: nobody reads the answer
            log.debug(
                "%s %s: the client left before its body ended", request.method, request.url.path
            )
            return Response(status_code=400)
        except Exception as err:
            return error_response(failure_of(err, f"{request.method} {request.url.path}"))

    return run


async def admitted(
    request: Request, services: Services, workspace: str, need: Need | tuple[Need, ...]
) -> None:
    """Raise 401 or 403 unless the caller may do ``need`` (each of them) in ``workspace``
    (auth/guard.py); remembered answers cost no thread. A workspace this server does not serve is
    a 400 naming those it serves (server/served.py), once the caller is known: strangers learn
    nothing."""
    header = request.headers.get("authorization")
    guard = services.guard
    needs = need if isinstance(need, tuple) else (need,)
    if not services.served.covers(workspace):
        await authenticated(request, services, workspace, needs[0])
    for one in needs:
        if not guard.admit_cached(header, one, workspace):
            await anyio.to_thread.run_sync(guard.admit, header, one, workspace)


async def authenticated(
    request: Request, services: Services, workspace: str, need: Need | None = None
) -> None:
    """Raise 401 unless the caller's token is good, then 400 for a workspace this server does not
    serve; what the caller may do is not asked (``need``, when known, only labels a refusal)."""
    header = request.headers.get("authorization")
    await anyio.to_thread.run_sync(services.guard.authenticate, header, need)
    if not services.served.covers(workspace):
        raise services.served.refusal(workspace)


def json_endpoint(handler: Handler, services: Services, need: Need) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        workspace = workspace_of(request, services)
        await admitted(request, services, workspace, need)
        fields = await fields_of(request, services.bounds)
        call = Call(workspace, fields, dict(request.path_params), services)
        return JsonResponse(await anyio.to_thread.run_sync(handler, call))

    return guarded(endpoint)


def artifact_endpoints(services: Services) -> list[BaseRoute]:
    async def by_path(request: Request) -> Response:
        workspace = workspace_of(request, services)
        raw = request.path_params["path"]
        need = artifact_need(raw, writing=request.method != "GET")
        await admitted(request, services, workspace, need)
        if request.method == "GET":
            return await artifacts.download(workspace, services, raw)
        if request.method == "PUT":
            return await artifacts.upload(workspace, services, raw, request)
        return await artifacts.delete(workspace, services, raw)

    async def mpu(request: Request) -> Response:
        workspace = workspace_of(request, services)
        action, raw = request.path_params["action"], request.path_params["path"]
        # A part's URL is signed by mpu/create, where its caller was admitted: MLflow's client
        # sends parts without its token, as to S3's presigned URLs (part_urls.py).
        if not (action == "part" and artifacts.signed_part(workspace, services, raw, request)):
            await admitted(request, services, workspace, artifact_need(raw, writing=True))
        if action == "part":
            if request.method != "PUT":
                raise MlflowError(ErrorCode.BAD_REQUEST, "upload parts with PUT")
            return await artifacts.mpu_part(workspace, services, raw, request)
        if request.method != "POST":
            raise MlflowError(ErrorCode.BAD_REQUEST, f"mpu/{action} takes POST")
        call = Call(workspace, await fields_of(request, services.bounds), {}, services)
        if action == "create":
            base = str(request.base_url)
            result = await anyio.to_thread.run_sync(artifacts.mpu_create, call, raw, base)
        elif action == "complete":
            result = await anyio.to_thread.run_sync(artifacts.mpu_complete, call, raw)
        elif action == "abort":
            result = await anyio.to_thread.run_sync(artifacts.mpu_abort, call, raw)
        else:
            raise MlflowError(ErrorCode.ENDPOINT_NOT_FOUND, f"no multipart action {action!r}")
        return JsonResponse(result)

    async def listing(request: Request) -> Response:
        workspace = workspace_of(request, services)
        fields = Fields.from_query(query_of(request))
        raw = fields.string("path") or ""
        await admitted(request, services, workspace, artifact_need(raw, writing=False))
        call = Call(workspace, fields, {}, services)
        return JsonResponse(await anyio.to_thread.run_sync(artifacts.list_proxy, call))

    routes: list[BaseRoute] = []
    for root in ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"):
        routes += [
            Route(f"{root}/artifacts", guarded(listing), methods=["GET"]),
            Route(
                f"{root}/artifacts/{{path:path}}",
                guarded(by_path),
                methods=["GET", "PUT", "DELETE"],
            ),
            Route(f"{root}/mpu/{{action}}/{{path:path}}", guarded(mpu), methods=["POST", "PUT"]),
        ]
    return routes


def api_routes(
    services: Services,
    table: list[tuple[str, str, Handler, Need]] = API,
    roots: tuple[str, ...] = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"),
) -> list[BaseRoute]:
    by_path: dict[str, dict[str, tuple[Handler, Need]]] = {}
    for method, path, handler, need in table:
        by_path.setdefault(path, {})[method] = (handler, need)
    routes: list[BaseRoute] = []
    for path, handlers in by_path.items():
        for root in roots:
            for method, (handler, need) in handlers.items():
                endpoint = json_endpoint(handler, services, need)
                routes.append(Route(root + path, endpoint, methods=[method]))
    return routes


def file_routes(services: Services, registry: RegistryStore | None) -> list[BaseRoute]:
    """The files the UI previews (previews.py): admitted for the route's need, then for ``get``
    on the owner of the file found, streamed by artifact_files.send."""

    def endpoint(find: Callable[[str, Request], ArtifactPath], need: Need) -> Endpoint:
        async def run(request: Request) -> Response:
            workspace = workspace_of(request, services)
            await admitted(request, services, workspace, need)
            path = await anyio.to_thread.run_sync(find, workspace, request)
            owner = get(ARTIFACT_OWNERS[path.owner])
            if owner != need:
                await admitted(request, services, workspace, owner)
            return await artifact_files.send(services, path.key(workspace), path.rest)

        return guarded(run)

    def tracked(resolver: FileResolver) -> Callable[[str, Request], ArtifactPath]:
        def find(workspace: str, request: Request) -> ArtifactPath:
            fields = Fields.from_query(query_of(request))
            return resolver(Call(workspace, fields, dict(request.path_params), services))

        return find

    def registered(resolver: VersionFileResolver) -> Callable[[str, Request], ArtifactPath]:
        def find(workspace: str, request: Request) -> ArtifactPath:
            assert registry is not None
            fields = Fields.from_query(query_of(request))
            return resolver(RegistryCall(workspace, fields, services, registry))

        return find

    routes: list[BaseRoute] = [
        Route(path, endpoint(tracked(resolver), need), methods=["GET"])
        for path, resolver, need in FILES
    ]
    if registry is not None:
        routes += [
            Route(path, endpoint(registered(resolver), need), methods=["GET"])
            for path, resolver, need in REGISTRY_FILES
        ]
    return routes


def registry_routes(services: Services, registry: RegistryStore) -> list[BaseRoute]:
    """The model registry's endpoints (issue 7): handlers of a RegistryCall."""

    def endpoint(handler: RegistryHandler, need: Need | tuple[Need, ...]) -> Endpoint:
        async def run(request: Request) -> Response:
            workspace = workspace_of(request, services)
            await admitted(request, services, workspace, need)
            fields = await fields_of(request, services.bounds)
            call = RegistryCall(workspace, fields, services, registry)
            return JsonResponse(await anyio.to_thread.run_sync(handler, call))

        return guarded(run)

    return [
        Route(root + path, endpoint(handler, need), methods=[method])
        for method, path, handler, need in REGISTRY_API
        for root in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
    ]


def graphql_routes(services: Services, registry: RegistryStore | None) -> list[BaseRoute]:
    """MLflow's GraphQL endpoint, which its web UI posts to (``graphql`` beside the page, so
    ``/graphql``; MLflow's server mounts it there alone). The caller is authenticated first, as
    for REST (401 before the body is read); each field then checks its own Need
    (graphql_fields.py)."""

    async def run(request: Request) -> Response:
        workspace = workspace_of(request, services)
        await authenticated(request, services, workspace)
        fields = await fields_of(request, services.bounds)
        header = request.headers.get("authorization")
        asker = Asker(workspace, header, services, registry)
        return JsonResponse(await anyio.to_thread.run_sync(graphql_query.answer, fields, asker))

    return [Route("/graphql", guarded(run), methods=["POST"])]


def build_app(
    services: Services, registry: RegistryStore | None = None, *, ui_dir: Path | None = None
) -> Starlette:
    """The whole API; the registry's endpoints only when a registry store is given; MLflow's web
    UI from the bundle in ``ui_dir`` when one is given (http/ui.py)."""

    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    async def version(request: Request) -> Response:
        return PlainTextResponse(services.version)

    api_document = openapi.document(services.version)

    async def openapi_document(request: Request) -> Response:
        """Public, as /version is: the API's shape, no workspace's data (openapi.py)."""
        return JsonResponse(api_document)

    async def server_info(request: Request) -> Response:
        return JsonResponse(
            {
                "store_type": None,
                "workspaces_enabled": True,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": True,
                "multipart_downloads_enabled": False,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                "features_enabled": {"gateway": False},
            }
        )

    async def workspaces(request: Request) -> Response:
        """MLflow's workspace list: only the namespaces the caller may list experiments in."""
        header = request.headers.get("authorization")
        names = await anyio.to_thread.run_sync(services.guard.workspaces, header)
        return JsonResponse({"workspaces": [{"name": name} for name in names]})

    async def workspace(request: Request) -> Response:
        name = request.path_params["name"]
        if not NAMESPACE.fullmatch(name):
            raise invalid(f"invalid workspace {name[:80]!r}: a workspace is a namespace name")
        await admitted(request, services, name, list_(EXPERIMENTS))
        return JsonResponse({"workspace": {"name": name}})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            err = MlflowError(
                ErrorCode.ENDPOINT_NOT_FOUND,
                f"no endpoint {request.method} {request.url.path}; mlkube serves MLflow's tracking "
                "API under /api/2.0/mlflow",
            )
            return error_response(err)
        body = {"error_code": ErrorCode.BAD_REQUEST.value, "message": str(exc.detail)}
        return JsonResponse(body, status_code=exc.status_code)

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route(openapi.OPENAPI_PATH, openapi_document, methods=["GET"]),
        Route("/api/3.0/mlflow/server-info", server_info, methods=["GET"]),
        Route("/ajax-api/3.0/mlflow/server-info", server_info, methods=["GET"]),
        *(
            route
            for root in ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
            for route in (
                Route(f"{root}/workspaces", guarded(workspaces), methods=["GET"]),
                Route(f"{root}/workspaces/{{name}}", guarded(workspace), methods=["GET"]),
            )
        ),
        *api_routes(services),
        *api_routes(services, API_3, ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")),
        *api_routes(services, UI_API, ("/ajax-api/2.0/mlflow",)),
        *(registry_routes(services, registry) if registry is not None else []),
        *artifact_endpoints(services),
        *graphql_routes(services, registry),
        *file_routes(services, registry),
        *(
            Route(telemetry.PATH, guarded(endpoint), methods=[method])
            for method, endpoint in telemetry.endpoints(services.bounds).items()
        ),
        *ui_routes(ui_dir),
    ]
    bounds = services.bounds
    # Outermost: a request past the in-flight limit is refused before any other work.
    in_flight = Middleware(
        InFlightLimit, limit=bounds.max_in_flight, retry_after=bounds.retry_after_seconds
    )
    return Starlette(
        routes=routes,
        middleware=[in_flight],
        exception_handlers={HTTPException: http_error},
    )
