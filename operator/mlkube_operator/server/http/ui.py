"""MLflow's own web UI, served from its bundle (issue 14): ``GET /`` and ``GET /static-files/...``.

The bundle is ``mlflow/server/js/build`` of the full ``mlflow`` wheel of the pinned version (the
mlkube image carries it at /opt/mlkube/mlflow-ui). Its index.html and webpack's public path are
relative (``static-files/...``) and its API calls resolve against the page's URL, so the UI must be
served from the API's own origin and path prefix; every file it loads is under ``static-files/``
(the favicon and the web manifest too). The files are public code and need no token; the API calls
the page makes keep their authentication.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

INDEX = "index.html"
# Where the bundle lives inside the mlflow package (and the wheel).
BUNDLE_IN_PACKAGE = PurePosixPath("server/js/build")
IMAGE_UI_DIR = "/opt/mlkube/mlflow-ui"

# By extension, not by the host's /etc/mime.types: the image has none, and a browser refuses a
# script or a style sheet of the wrong type under `nosniff`.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".cjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
}
DEFAULT_TYPE = "application/octet-stream"

# webpack names what it emits by content (main.c2f5f8d4.js): such a name never changes meaning, so
# browsers may keep it for a year. index.html, the favicon and the manifest keep their names
# across versions and are revalidated (their ETag makes that a 304).
HASHED_NAME = re.compile(r"\.[0-9a-f]{8,}\.")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

NO_UI = (
    "This mlkube tracking server serves no web UI. Start mlkube-server with --ui-dir DIR (or "
    "MLKUBE_UI_DIR=DIR) naming MLflow's UI bundle: mlflow/server/js/build of the mlflow wheel of "
    f"the pinned version; the mlkube image has it at {IMAGE_UI_DIR}. MLflow's API is under "
    "/api/2.0/mlflow.\n"
)


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), DEFAULT_TYPE)


def cache_control(name: str) -> str:
    return IMMUTABLE if HASHED_NAME.search(PurePosixPath(name).name) else REVALIDATE


class BundleFiles(StaticFiles):
    """Starlette's static files (path containment, ETags, ranges, 304s) with the bundle's content
    types and cache policy; symbolic links that leave the directory are refused."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        name = os.fspath(full_path)
        if isinstance(response, FileResponse):
            response.headers["content-type"] = content_type(name)
        response.headers["cache-control"] = cache_control(name)
        response.headers["x-content-type-options"] = "nosniff"
        return response


def is_bundle(directory: Path) -> bool:
    return (directory / INDEX).is_file()


def installed_bundle() -> Path | None:
    """The bundle of the installed ``mlflow`` package, if it is the full one; without importing
    it (mlflow-skinny and the mlkube image's venv have none)."""
    try:
        spec = importlib.util.find_spec("mlflow")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / BUNDLE_IN_PACKAGE
        if is_bundle(candidate):
            return candidate
    return None


def ui_routes(ui_dir: Path | None) -> list[BaseRoute]:
    """``/`` and ``/static-files/{path}`` from ``ui_dir``; without one, ``/`` says how to get it."""
    if ui_dir is None:

        async def no_ui(request: Request) -> Response:
            return PlainTextResponse(NO_UI, status_code=404)

        return [Route("/", no_ui, methods=["GET"])]

    files = BundleFiles(directory=ui_dir)

    async def index(request: Request) -> Response:
        return await files.get_response(INDEX, request.scope)

    async def static(request: Request) -> Response:
        # Starlette refuses what leaves the directory ("..", links out); normpath as its own
        # mounted app does, so that "a/./b" finds a/b.
        path = os.path.normpath(request.path_params["path"])
        return await files.get_response(path, request.scope)

    return [
        Route("/", index, methods=["GET"]),
        Route("/static-files/{path:path}", static, methods=["GET"]),
    ]
