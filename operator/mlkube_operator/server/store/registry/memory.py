"""An in-memory RegistryStore: the reference implementation for fast tests, nothing durable.

There is no registry copy here: a version is READY at once and downloads from its source.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mlkube_operator.server.errors import already_exists
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.base import RegistryStore
from mlkube_operator.server.store.registry.entities import (
    ModelVersion,
    NewVersion,
    RegisteredModel,
    Stage,
    VersionStatus,
)
from mlkube_operator.server.store.shared.clock import now_ms


@dataclass
class _Model:
    """A model and its versions, mutable under the store's lock."""

    model: RegisteredModel
    versions: dict[int, ModelVersion] = field(default_factory=dict)
    last_number: int = 0


class InMemoryRegistryStore(RegistryStore):
    """Everything in dicts behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._models: dict[str, dict[str, _Model]] = defaultdict(dict)

    # -- helpers (callers hold the lock) ------------------------------------------------------

    def _held(self, workspace: str, name: str) -> _Model:
        held = self._models[workspace].get(name)
        if held is None:
            raise rules.model_not_found(name)
        return held

    def _version(self, workspace: str, name: str, version: int) -> tuple[_Model, ModelVersion]:
        held = self._held(workspace, name)
        found = held.versions.get(version)
        if found is None:
            raise rules.version_not_found(name, version)
        return held, found

    @staticmethod
    def _with_aliases(held: _Model, version: ModelVersion) -> ModelVersion:
        aliases = rules.aliases_of(held.model.aliases, version.version)
        return dataclasses.replace(version, aliases=aliases)

    def _model_entity(self, held: _Model) -> RegisteredModel:
        latest = rules.latest_per_stage(held.versions.values())
        return dataclasses.replace(
            held.model, latest_versions=tuple(self._with_aliases(held, v) for v in latest)
        )

    def _touch(self, held: _Model, **changes: Any) -> None:
        held.model = dataclasses.replace(held.model, last_updated_timestamp=now_ms(), **changes)

    def _put_version(self, held: _Model, version: ModelVersion, **changes: Any) -> ModelVersion:
        changed = dataclasses.replace(version, last_updated_timestamp=now_ms(), **changes)
        held.versions[version.version] = changed
        return self._with_aliases(held, changed)

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self, workspace: str, name: str, description: str, tags: dict[str, str]
    ) -> RegisteredModel:
        with self._lock:
            if name in self._models[workspace]:
                raise already_exists(f"Registered Model (name={name}) already exists.")
            created = now_ms()
            model = RegisteredModel(name, created, created, description, dict(tags))
            held = _Model(model)
            self._models[workspace][name] = held
            return self._model_entity(held)

    def get_registered_model(self, workspace: str, name: str) -> RegisteredModel:
        with self._lock:
            return self._model_entity(self._held(workspace, name))

    def list_registered_models(self, workspace: str) -> list[RegisteredModel]:
        with self._lock:
            return [self._model_entity(h) for h in self._models[workspace].values()]

    def rename_registered_model(self, workspace: str, name: str, new_name: str) -> RegisteredModel:
        with self._lock:
            held = self._held(workspace, name)
            if new_name == name:
                return self._model_entity(held)
            if new_name in self._models[workspace]:
                raise already_exists(f"Registered Model (name={new_name}) already exists.")
            self._touch(held, name=new_name)
            held.versions = {
                n: dataclasses.replace(v, name=new_name) for n, v in held.versions.items()
            }
            del self._models[workspace][name]
            self._models[workspace][new_name] = held
            return self._model_entity(held)

    def update_registered_model(
        self, workspace: str, name: str, description: str
    ) -> RegisteredModel:
        with self._lock:
            held = self._held(workspace, name)
            self._touch(held, description=description)
            return self._model_entity(held)

    def delete_registered_model(self, workspace: str, name: str) -> None:
        with self._lock:
            self._held(workspace, name)
            del self._models[workspace][name]

    def set_registered_model_tag(self, workspace: str, name: str, key: str, value: str) -> None:
        with self._lock:
            held = self._held(workspace, name)
            self._touch(held, tags={**held.model.tags, key: value})

    def delete_registered_model_tag(self, workspace: str, name: str, key: str) -> None:
        with self._lock:
            held = self._held(workspace, name)
            if key in held.model.tags:
                tags = {k: v for k, v in held.model.tags.items() if k != key}
                self._touch(held, tags=tags)

    def set_registered_model_alias(
        self, workspace: str, name: str, alias: str, version: int
    ) -> None:
        with self._lock:
            held, _ = self._version(workspace, name, version)
            self._touch(held, aliases={**held.model.aliases, alias: version})

    def delete_registered_model_alias(self, workspace: str, name: str, alias: str) -> None:
        with self._lock:
            held = self._held(workspace, name)
            if alias in held.model.aliases:
                aliases = {a: v for a, v in held.model.aliases.items() if a != alias}
                self._touch(held, aliases=aliases)

    # -- model versions ----------------------------------------------------------------------

    def create_model_version(self, workspace: str, name: str, new: NewVersion) -> ModelVersion:
        with self._lock:
            held = self._held(workspace, name)
            held.last_number += 1
            created = now_ms()
            version = ModelVersion(
                name=name,
                version=held.last_number,
                creation_timestamp=created,
                last_updated_timestamp=created,
                current_stage=Stage.NONE,
                source=new.source,
                status=VersionStatus.READY,
                description=new.description,
                run_id=new.run_id,
                run_link=new.run_link,
                model_id=new.model_id,
                tags=dict(new.tags),
                storage_source=new.storage_source,
            )
            held.versions[version.version] = version
            self._touch(held)
            return self._with_aliases(held, version)

    def get_model_version(self, workspace: str, name: str, version: int) -> ModelVersion:
        with self._lock:
            held, found = self._version(workspace, name, version)
            return self._with_aliases(held, found)

    def list_model_versions(self, workspace: str, name: str | None) -> list[ModelVersion]:
        with self._lock:
            if name is None:
                models = list(self._models[workspace].values())
            else:
                held = self._models[workspace].get(name)
                models = [] if held is None else [held]
            return [self._with_aliases(h, v) for h in models for v in h.versions.values()]

    def update_model_version(
        self, workspace: str, name: str, version: int, description: str
    ) -> ModelVersion:
        with self._lock:
            held, found = self._version(workspace, name, version)
            return self._put_version(held, found, description=description)

    def transition_model_version_stage(
        self, workspace: str, name: str, version: int, stage: Stage, archive_existing: bool
    ) -> ModelVersion:
        with self._lock:
            held, found = self._version(workspace, name, version)
            if archive_existing:
                for other in list(held.versions.values()):
                    if other.version != version and other.current_stage == stage:
                        self._put_version(held, other, current_stage=Stage.ARCHIVED)
            self._touch(held)
            return self._put_version(held, found, current_stage=stage)

    def delete_model_version(self, workspace: str, name: str, version: int) -> None:
        with self._lock:
            held, _ = self._version(workspace, name, version)
            del held.versions[version]
            aliases = {a: v for a, v in held.model.aliases.items() if v != version}
            self._touch(held, aliases=aliases)

    def set_model_version_tag(
        self, workspace: str, name: str, version: int, key: str, value: str
    ) -> None:
        with self._lock:
            held, found = self._version(workspace, name, version)
            self._put_version(held, found, tags={**found.tags, key: value})

    def delete_model_version_tag(self, workspace: str, name: str, version: int, key: str) -> None:
        with self._lock:
            held, found = self._version(workspace, name, version)
            if key in found.tags:
                tags = {k: v for k, v in found.tags.items() if k != key}
                self._put_version(held, found, tags=tags)

    def get_model_version_download_uri(self, workspace: str, name: str, version: int) -> str:
        return self.get_model_version(workspace, name, version).storage_source
