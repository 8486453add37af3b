"""The tracking server as mlkube's own clients talk to it: where it is, who the caller is, and
single files through its artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/<path>``).

Every request carries the caller's bearer token (``mlkube.auth.bearer_token``: the user's
``MLFLOW_TRACKING_TOKEN``, or a pod's projected ServiceAccount token) and its workspace (the
namespace) as ``X-MLFLOW-WORKSPACE``. No object-store credential is needed: the server holds the
only one (issue 13).
"""

from __future__ import annotations

import base64
import http.client
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO, cast

from mlkube import layout
from mlkube.auth import bearer_token
from mlkube.storage import StorageError

ARTIFACTS_API = "api/2.0/mlflow-artifacts/artifacts"
WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
TIMEOUT = 60.0


class ProxyError(StorageError):
    """The tracking server refused or could not be reached; the message says which call."""


def tracking_base(env: Mapping[str, str]) -> str:
    """``MLFLOW_TRACKING_URI`` without its trailing slash; it must be an http(s) URL."""
    uri = env.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        raise ProxyError(
            "the tracking server is not configured: set MLFLOW_TRACKING_URI to its http(s) URL "
            f"(it is {uri or 'unset'!r})"
        )
    return uri.rstrip("/")


def headers(env: Mapping[str, str], workspace: str | None = None) -> dict[str, str]:
    """Authorization and workspace headers, computed anew on each call (a pod's token file is
    refreshed by the kubelet). ``workspace`` overrides ``MLFLOW_WORKSPACE``."""
    out: dict[str, str] = {}
    token = bearer_token(env)
    if token:
        out["Authorization"] = f"Bearer {token}"
    elif env.get("MLFLOW_TRACKING_USERNAME"):
        pair = f"{env['MLFLOW_TRACKING_USERNAME']}:{env.get('MLFLOW_TRACKING_PASSWORD', '')}"
        out["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
    workspace = workspace or env.get("MLFLOW_WORKSPACE")
    if workspace:
        out[WORKSPACE_HEADER] = workspace
    return out


def artifact_path(uri: str) -> str:
    """The artifact path of an ``mlflow-artifacts:/<path>`` URI (what the proxy's URL ends in)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != layout.ARTIFACTS_SCHEME:
        raise ProxyError(f"expected an {layout.ARTIFACTS_ROOT} URI, got {uri!r}")
    try:
        return layout.safe_relative(parts.path.lstrip("/"))
    except layout.LayoutError as err:
        raise ProxyError(str(err)) from None


def artifact_url(env: Mapping[str, str], path: str) -> str:
    return f"{tracking_base(env)}/{ARTIFACTS_API}/{urllib.parse.quote(path)}"


def _send(request: urllib.request.Request, what: str) -> http.client.HTTPResponse:
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        raise ProxyError(f"{what}: HTTP {err.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        raise ProxyError(f"{what}: {err}") from None
    return response


Progress = Callable[[int, int], None]


class _Reporting:
    """A file read for sending (http.client only calls ``read``) that reports (bytes sent so
    far, total) as it goes."""

    def __init__(self, source: BinaryIO, total: int, progress: Progress) -> None:
        self.source, self.total, self.progress, self.sent = source, total, progress, 0

    def read(self, size: int = -1) -> bytes:
        block = self.source.read(size)
        self.sent += len(block)
        self.progress(self.sent, self.total)
        return block


def upload_file(
    env: Mapping[str, str],
    path: str,
    source: Path,
    workspace: str | None = None,
    progress: Progress | None = None,
) -> None:
    """PUT ``source`` to the artifact ``path``, streamed (never wholly in memory); ``progress``
    is called with (bytes sent, total) as the bytes go."""
    url = artifact_url(env, path)
    size = source.stat().st_size
    with source.open("rb") as raw:
        body: BinaryIO = raw
        if progress is not None:
            body = cast(BinaryIO, _Reporting(raw, size, progress))
        request = urllib.request.Request(
            url, data=body, method="PUT", headers=headers(env, workspace)
        )
        request.add_header("Content-Length", str(size))
        request.add_header("Content-Type", "application/octet-stream")
        _send(request, f"PUT {url}").close()


def download_file(
    env: Mapping[str, str], path: str, target: Path, workspace: str | None = None
) -> Path:
    """GET the artifact ``path`` into ``target``, streamed."""
    url = artifact_url(env, path)
    request = urllib.request.Request(url, headers=headers(env, workspace))
    with _send(request, f"GET {url}") as response, target.open("wb") as out:
        shutil.copyfileobj(response, out)
    return target
