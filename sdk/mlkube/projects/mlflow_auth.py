"""MLflow's request-auth plugin "mlkube": the bearer token of a Run's pod on every request.

The init container copies this file, as ``mlkube_auth.py``, into the pod's shared volume with a
``*.dist-info`` that declares it in the entry-point group ``mlflow.request_auth_provider``; the
runner puts that directory first on the entry point's PYTHONPATH and sets
``MLFLOW_TRACKING_AUTH=mlkube`` (mlkube.projects.auth_plugin). The stock ``mlflow`` client then
hands ``get_auth()`` to requests as its ``auth`` for every call to the tracking server, artifact
proxy included (issue 13). It runs on the Run image's python (3.9 or later) beside whatever mlflow
the user installed, so it imports neither mlkube nor mlflow.

The token file is a projected ServiceAccount token that the kubelet replaces before it expires:
it is read again whenever the file changed (by inode, mtime and size), else served from memory.
"""

from __future__ import annotations

import os
import threading
from typing import Any

NAME = "mlkube"
# mlkube.auth.TOKEN_FILE_ENV (this module stands alone).
TOKEN_FILE_ENV = "MLKUBE_TOKEN_FILE"

_lock = threading.Lock()
_cached: dict[str, tuple[tuple[int, int, int], str]] = {}


def read_token(path: str) -> str | None:
    """The token in ``path``, stripped; None when the file is missing or empty."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
    with _lock:
        known = _cached.get(path)
        if known is not None and known[0] == stamp:
            return known[1] or None
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    with _lock:
        _cached[path] = (stamp, token)
    return token or None


class BearerTokenFile:
    """A requests auth callable: ``Authorization: Bearer <the token file's content>``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, request: Any) -> Any:
        token = read_token(self.path)
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        return request


class MlkubeAuthProvider:
    """What MLflow's RequestAuthProviderRegistry asks of a provider: a name and an auth."""

    def get_name(self) -> str:
        return NAME

    def get_auth(self) -> BearerTokenFile:
        return BearerTokenFile(os.environ.get(TOKEN_FILE_ENV, ""))
