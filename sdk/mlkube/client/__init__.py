"""The mlkube SDK: a typed client for mlkube's resources (the only SDK package that imports the
Kubernetes client library).

``Client`` and ``Collection`` load on first use: the Kubernetes library takes about a second to
import, which commands that never reach a cluster (`mlkube serve` in a model pod, `mlkube project
prepare` in a Run's init container) should not pay for importing this package's errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlkube.client.errors import (
    AlreadyExists,
    ApiError,
    BadReference,
    ConfigError,
    Conflict,
    Failed,
    Forbidden,
    Invalid,
    MlkubeError,
    NotFound,
    ServingError,
    TrackingError,
    Unauthorized,
    Unreachable,
    WaitTimeout,
)
from mlkube.client.refs import parse_canary, parse_model_ref

if TYPE_CHECKING:
    from mlkube.client.client import Client
    from mlkube.client.collection import Collection


def __getattr__(name: str) -> Any:
    if name == "Client":
        from mlkube.client.client import Client

        return Client
    if name == "Collection":
        from mlkube.client.collection import Collection

        return Collection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadReference",
    "Client",
    "Collection",
    "ConfigError",
    "Conflict",
    "Failed",
    "Forbidden",
    "Invalid",
    "MlkubeError",
    "NotFound",
    "ServingError",
    "TrackingError",
    "Unauthorized",
    "Unreachable",
    "WaitTimeout",
    "parse_canary",
    "parse_model_ref",
]
