"""The bearer token a client sends to the tracking server (issue 13).

Pods that mlkube makes in users' namespaces carry an audience-bound ServiceAccount token in a
projected volume at ``TOKEN_DIR``, which the kubelet refreshes before it expires; their
environment names the file in ``MLKUBE_TOKEN_FILE``. A user's own token (``MLFLOW_TRACKING_TOKEN``,
as the stock ``mlflow`` client reads it) wins over the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

TOKEN_AUDIENCE = "mlkube"
TOKEN_DIR = "/var/run/secrets/mlkube.io/serviceaccount"
TOKEN_FILE = TOKEN_DIR + "/token"
TOKEN_FILE_ENV = "MLKUBE_TOKEN_FILE"


def bearer_token(env: Mapping[str, str]) -> str | None:
    """``MLFLOW_TRACKING_TOKEN`` when set, else the content of the file ``MLKUBE_TOKEN_FILE``
    names (read anew on every call: the kubelet rewrites it), else None."""
    if env.get("MLFLOW_TRACKING_TOKEN"):
        return env["MLFLOW_TRACKING_TOKEN"]
    path = env.get(TOKEN_FILE_ENV)
    if path:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            return Path(path).read_text(encoding="utf-8").strip() or None
    return None


class CredentialError(RuntimeError):
    """No token to send: the message says whose and why (a client adds how to get one)."""
