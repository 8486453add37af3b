"""What an endpoint does, in RBAC's words: a verb on a resource of the ``mlkube.io`` group.

Reads are ``get`` (one object) and ``list`` (a search); writes are ``create``, ``update`` and
``delete``. Logged models are not custom resources, but RBAC can still name them: the virtual
resource ``loggedmodels`` (docs/security.md). Artifacts are checked as their owner: a run's as
``runs``, a logged model's as ``loggedmodels``, a registry copy's as ``modelversions``.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "mlkube.io"
EXPERIMENTS = "experiments"
RUNS = "runs"
LOGGED_MODELS = "loggedmodels"
REGISTERED_MODELS = "registeredmodels"
MODEL_VERSIONS = "modelversions"


@dataclass(frozen=True)
class Need:
    verb: str
    resource: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}.{GROUP}"


def get(resource: str) -> Need:
    return Need("get", resource)


def list_(resource: str) -> Need:
    return Need("list", resource)


def create(resource: str) -> Need:
    return Need("create", resource)


def update(resource: str) -> Need:
    return Need("update", resource)


def delete(resource: str) -> Need:
    return Need("delete", resource)
