"""What a registry handler gets: the request (workspace, fields), the registry store and the
tracking store (sources name runs and logged models), with readers for the registry's fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlkube_operator.server.http.call import Services
from mlkube_operator.server.http.fields import Fields, missing
from mlkube_operator.server.http.serialize import Json
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.base import RegistryStore
from mlkube_operator.server.store.tracking.base import TrackingStore


@dataclass(frozen=True)
class RegistryCall:
    workspace: str
    fields: Fields
    services: Services
    registry: RegistryStore

    @property
    def tracking(self) -> TrackingStore:
        return self.services.store

    def name(self, field: str = "name") -> str:
        return rules.check_model_name(self.fields.string(field), field)

    def version(self) -> int:
        """A version number; one below 1 names no version (404 as in MLflow, not 400)."""
        number = self.fields.integer("version", required=True)
        assert number is not None
        return number

    def text(self, field: str) -> str:
        """An optional string field; MLflow treats a missing one as empty."""
        return self.fields.string(field) or ""

    def key(self) -> str:
        key = self.fields.string("key")
        if key is None:
            raise missing("key")
        return key

    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for key, value in self.fields.key_values("tags", value_required=False):
            rules.check_tag(key, value)
            tags[key] = value
        return tags


RegistryHandler = Callable[[RegistryCall], Json]
