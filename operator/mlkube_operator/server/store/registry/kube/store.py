"""KubeRegistryStore: MLflow's model registry on RegisteredModel and ModelVersion resources.

- A registered model is a RegisteredModel (its MLflow name in spec.displayName when it is not a
  valid resource name, names.py); description, tags and aliases are its spec.
- A version is a ModelVersion naming the model's resource in spec.model. Its number is claimed
  with ``assign_version`` (the one writer, which the operator uses too) and written to
  status.version before the create call answers; the operator then copies the files into the
  registry and sets the phase (PendingRegistration -> Ready or FailedRegistration).
- Reads come from a watch-fed cache (cache.py) that the store's own writes update too. It also
  holds the ModelDeployments, read only: a version's tag ``mlkube.deployments`` says which serve
  it (serving.py), derived on every read and never stored.
- Renaming a model changes only its display name: resource names, and so the registry's object
  keys and the versions' spec.model, never change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mlkube import layout
from mlkube.api import parse
from mlkube.api.kinds import MODEL_VERSION, REGISTERED_MODEL, Kind
from mlkube.api.model_version import ModelVersion as VersionResource
from mlkube_operator.kube import AlreadyExists, KubeClient, KubeError, NotFound
from mlkube_operator.kube.versions import VersionAllocationError, assign_version
from mlkube_operator.server.errors import ErrorCode, MlflowError, already_exists, not_found
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.base import RegistryStore
from mlkube_operator.server.store.registry.entities import (
    ModelVersion,
    NewVersion,
    RegisteredModel,
    Stage,
    VersionStatus,
)
from mlkube_operator.server.store.registry.kube import convert, names
from mlkube_operator.server.store.registry.kube.cache import (
    ModelRecord,
    RegistryCache,
    VersionRecord,
)
from mlkube_operator.server.store.shared.clock import now_ms
from mlkube_operator.server.store.shared.errors import answering, unavailable
from mlkube_operator.server.store.shared.watched import WatchedStore

log = logging.getLogger("mlkube.server.registry")
Obj = dict[str, Any]
ATTEMPTS = 5


class KubeRegistryStore(WatchedStore, RegistryStore):
    def __init__(self, client: KubeClient, namespaces: Sequence[str] = ()) -> None:
        """``namespaces``: the ones watched (empty: every namespace; shared/watched.py)."""
        self.client = client
        self.cache = RegistryCache()
        self.watch(client, RegistryCache.KINDS, self.cache, namespaces)

    # -- helpers ------------------------------------------------------------------------------

    def _model(self, workspace: str, name: str) -> ModelRecord:
        """The model from the cache or, when the watch has not brought it yet, from the API
        server: another replica may have made it a moment ago (as runs, issue 17). Read by the
        resource name a model of that name gets first, which is every model's but a renamed
        one's or one made while its name was held."""
        record = self.cache.model_named(workspace, name)
        if record is None:
            self._refresh(REGISTERED_MODEL, workspace, names.model_resource_name(name))
            record = self.cache.model_named(workspace, name)
        if record is None:
            raise rules.model_not_found(name)
        return record

    def _numbered(self, workspace: str, model: ModelRecord) -> list[tuple[int, VersionRecord]]:
        """The model's versions that have a number (one applied with kubectl gets its number
        from the operator a moment later; until then MLflow cannot name it)."""
        out = []
        for record in self.cache.versions_of(workspace, model.resource.metadata.name):
            number = convert.version_number(record.resource, model.resource)
            if number is not None:
                out.append((number, record))
        return out

    def _version(self, workspace: str, name: str, number: int) -> tuple[ModelRecord, VersionRecord]:
        model = self._model(workspace, name)
        found = self._numbered_as(workspace, model, number)
        if found is None:
            # Numbered through another replica a moment ago? The model's claims say so: read
            # it fresh, and its versions only when the number is claimed.
            resource_name = model.resource.metadata.name
            self._refresh(REGISTERED_MODEL, workspace, resource_name)
            model = self.cache.model(workspace, resource_name) or model
            if number in model.resource.status.version_claims.values():
                self._refresh_versions(workspace, resource_name)
                found = self._numbered_as(workspace, model, number)
        if found is None:
            raise rules.version_not_found(name, number)
        return model, found

    def _numbered_as(self, workspace: str, model: ModelRecord, number: int) -> VersionRecord | None:
        return next((r for n, r in self._numbered(workspace, model) if n == number), None)

    def _refresh_versions(self, workspace: str, model: str) -> None:
        try:
            versions, _ = self.client.list(
                MODEL_VERSION, workspace, f"{layout.MODEL_LABEL}={model}"
            )
        except KubeError as err:
            raise unavailable(err) from None
        for obj in versions:
            self.cache.put(MODEL_VERSION, obj)

    def _version_entity(
        self, workspace: str, record: VersionRecord, number: int, model: ModelRecord
    ) -> ModelVersion:
        serving = self.cache.deployments_of(workspace, model.resource.metadata.name)
        return convert.version_entity(record.resource, number, model.resource, serving)

    def _version_entities(self, workspace: str, model: ModelRecord) -> list[ModelVersion]:
        # One look-up of the model's deployments for all its versions.
        serving = self.cache.deployments_of(workspace, model.resource.metadata.name)
        return [
            convert.version_entity(r.resource, n, model.resource, serving)
            for n, r in self._numbered(workspace, model)
        ]

    def _model_entity(self, workspace: str, model: ModelRecord) -> RegisteredModel:
        return convert.model_entity(model.resource, self._version_entities(workspace, model))

    def _patch(
        self, kind: Kind, workspace: str, resource_name: str, patch: Obj, gone: Exception
    ) -> None:
        with answering(f"updating {kind.kind} {resource_name}", lambda: gone):
            obj = self.client.patch(kind, workspace, resource_name, patch)
        self.cache.put(kind, obj)

    def _patch_model(self, workspace: str, model: ModelRecord, spec: Obj) -> None:
        patch = {"metadata": convert.touched(now_ms()), "spec": spec}
        gone = rules.model_not_found(convert.model_name(model.resource))
        self._patch(REGISTERED_MODEL, workspace, model.resource.metadata.name, patch, gone)

    def _patch_version(
        self, workspace: str, name: str, number: int, record: VersionRecord, spec: Obj
    ) -> None:
        patch = {"metadata": convert.touched(now_ms()), "spec": spec}
        gone = rules.version_not_found(name, number)
        self._patch(MODEL_VERSION, workspace, record.resource.metadata.name, patch, gone)

    def _delete(self, kind: Kind, workspace: str, resource_name: str) -> None:
        try:
            self.client.delete(kind, workspace, resource_name)
        except NotFound:
            pass  # already gone: what we wanted
        except KubeError as err:
            raise unavailable(err) from None
        self.cache.forget(kind, workspace, resource_name)

    def _workspace_missing(self, workspace: str) -> Exception:
        return not_found(f"the workspace {workspace!r} does not exist: create the namespace first")

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self, workspace: str, name: str, description: str, tags: dict[str, str]
    ) -> RegisteredModel:
        if self.cache.model_named(workspace, name) is not None:
            raise already_exists(f"Registered Model (name={name}) already exists.")
        resource_name = names.model_resource_name(name)
        for _ in range(ATTEMPTS):
            body = convert.model_body(resource_name, name, description, tags, now_ms())
            try:
                with answering(
                    f"creating model {name!r}", lambda: self._workspace_missing(workspace)
                ):
                    obj = self.client.create(REGISTERED_MODEL, workspace, body)
            except AlreadyExists:
                self._refresh(REGISTERED_MODEL, workspace, resource_name)
                if self.cache.model_named(workspace, name) is not None:
                    raise already_exists(
                        f"Registered Model (name={name}) already exists."
                    ) from None
                # The name is held by a model since renamed, or one being deleted.
                resource_name = names.other_model_resource_name(name)
                continue
            self.cache.put(REGISTERED_MODEL, obj)
            return self.get_registered_model(workspace, name)
        raise unavailable(RuntimeError(f"no free resource name for model {name!r}"))

    def _refresh(self, kind: Kind, workspace: str, resource_name: str) -> None:
        """Read one object fresh into the cache (the cache may not have seen it yet)."""
        try:
            self.cache.put(kind, self.client.get(kind, workspace, resource_name))
        except NotFound:
            pass
        except KubeError as err:
            raise unavailable(err) from None

    def get_registered_model(self, workspace: str, name: str) -> RegisteredModel:
        return self._model_entity(workspace, self._model(workspace, name))

    def list_registered_models(self, workspace: str) -> list[RegisteredModel]:
        return [self._model_entity(workspace, m) for m in self.cache.models(workspace)]

    def rename_registered_model(self, workspace: str, name: str, new_name: str) -> RegisteredModel:
        model = self._model(workspace, name)
        other = self.cache.model_named(workspace, new_name)
        if other is not None and other.resource.metadata.name != model.resource.metadata.name:
            raise already_exists(f"Registered Model (name={new_name}) already exists.")
        # Resource names never change (versions and registry keys use them); the display name
        # does, and is dropped when the new name is the resource's own.
        display = None if new_name == model.resource.metadata.name else new_name
        self._patch_model(workspace, model, {"displayName": display})
        return self.get_registered_model(workspace, new_name)

    def update_registered_model(
        self, workspace: str, name: str, description: str
    ) -> RegisteredModel:
        self._patch_model(workspace, self._model(workspace, name), {"description": description})
        return self.get_registered_model(workspace, name)

    def delete_registered_model(self, workspace: str, name: str) -> None:
        model = self._model(workspace, name)
        # Versions first: the operator's finalizer holds a model until its versions are gone.
        for record in self.cache.versions_of(workspace, model.resource.metadata.name):
            self._delete(MODEL_VERSION, workspace, record.resource.metadata.name)
        self._delete(REGISTERED_MODEL, workspace, model.resource.metadata.name)

    def set_registered_model_tag(self, workspace: str, name: str, key: str, value: str) -> None:
        self._patch_model(workspace, self._model(workspace, name), {"tags": {key: value}})

    def delete_registered_model_tag(self, workspace: str, name: str, key: str) -> None:
        model = self._model(workspace, name)
        if key in model.resource.spec.tags:
            self._patch_model(workspace, model, {"tags": {key: None}})

    def set_registered_model_alias(
        self, workspace: str, name: str, alias: str, version: int
    ) -> None:
        model, _ = self._version(workspace, name, version)
        self._patch_model(workspace, model, {"aliases": {alias: version}})

    def delete_registered_model_alias(self, workspace: str, name: str, alias: str) -> None:
        model = self._model(workspace, name)
        if alias in model.resource.spec.aliases:
            self._patch_model(workspace, model, {"aliases": {alias: None}})

    # -- model versions ----------------------------------------------------------------------

    def create_model_version(self, workspace: str, name: str, new: NewVersion) -> ModelVersion:
        model = self._model(workspace, name)
        model_resource = model.resource.metadata.name
        obj: Obj | None = None
        for _ in range(ATTEMPTS):
            resource_name = names.version_resource_name(model_resource)
            body = convert.version_body(resource_name, model_resource, new, now_ms())
            try:
                with answering(
                    f"creating a version of {name!r}", lambda: self._workspace_missing(workspace)
                ):
                    obj = self.client.create(MODEL_VERSION, workspace, body)
                break
            except AlreadyExists:
                continue  # a random suffix taken: draw another
        if obj is None:
            raise unavailable(RuntimeError(f"no free resource name for a version of {name!r}"))
        self.cache.put(MODEL_VERSION, obj)
        resource_name = obj["metadata"]["name"]
        try:
            # The one writer of the number (kube/versions.py); the operator calls it too for
            # ModelVersions applied with kubectl, and both get the same number.
            with answering(f"numbering a version of {name!r}", lambda: rules.model_not_found(name)):
                number, obj = assign_version(self.client, workspace, model_resource, obj)
        except MlflowError as err:
            if err.code is ErrorCode.RESOURCE_DOES_NOT_EXIST:
                # The model went away meanwhile: so does this version.
                self._delete(MODEL_VERSION, workspace, resource_name)
            raise
        except VersionAllocationError as err:
            # The object stays: the operator claims its number when it sees it.
            raise unavailable(err) from None
        self.cache.put(MODEL_VERSION, obj)
        # Answered as written, not from the cache: the operator may have settled the version
        # already (a source without an MLmodel fails in a moment), and the watch may have
        # brought that; the create's answer is the version it made, PENDING_REGISTRATION.
        return convert.version_entity(
            parse(VersionResource, obj),
            number,
            model.resource,
            self.cache.deployments_of(workspace, model_resource),
        )

    def get_model_version(self, workspace: str, name: str, version: int) -> ModelVersion:
        model, record = self._version(workspace, name, version)
        return self._version_entity(workspace, record, version, model)

    def list_model_versions(self, workspace: str, name: str | None) -> list[ModelVersion]:
        if name is not None:
            model = self.cache.model_named(workspace, name)
            return [] if model is None else self._version_entities(workspace, model)
        return [
            v for m in self.cache.models(workspace) for v in self._version_entities(workspace, m)
        ]

    def update_model_version(
        self, workspace: str, name: str, version: int, description: str
    ) -> ModelVersion:
        _, record = self._version(workspace, name, version)
        self._patch_version(workspace, name, version, record, {"description": description})
        return self.get_model_version(workspace, name, version)

    def transition_model_version_stage(
        self, workspace: str, name: str, version: int, stage: Stage, archive_existing: bool
    ) -> ModelVersion:
        model, record = self._version(workspace, name, version)
        if archive_existing:
            for number, other in self._numbered(workspace, model):
                if number != version and other.resource.spec.stage == stage.value:
                    spec = {"stage": Stage.ARCHIVED.value}
                    self._patch_version(workspace, name, number, other, spec)
        self._patch_version(workspace, name, version, record, {"stage": stage.value})
        return self.get_model_version(workspace, name, version)

    def delete_model_version(self, workspace: str, name: str, version: int) -> None:
        model, record = self._version(workspace, name, version)
        self._delete(MODEL_VERSION, workspace, record.resource.metadata.name)
        pointing = {a: None for a, v in model.resource.spec.aliases.items() if v == version}
        if pointing:
            self._patch_model(workspace, model, {"aliases": pointing})

    def set_model_version_tag(
        self, workspace: str, name: str, version: int, key: str, value: str
    ) -> None:
        _, record = self._version(workspace, name, version)
        self._patch_version(workspace, name, version, record, {"tags": {key: value}})

    def delete_model_version_tag(self, workspace: str, name: str, version: int, key: str) -> None:
        _, record = self._version(workspace, name, version)
        if key in record.resource.spec.tags:
            self._patch_version(workspace, name, version, record, {"tags": {key: None}})

    def get_model_version_download_uri(self, workspace: str, name: str, version: int) -> str:
        model, record = self._version(workspace, name, version)
        entity = convert.version_entity(record.resource, version, model.resource)
        if entity.status is VersionStatus.READY:
            # The registry's copy, through this server's artifact proxy.
            return layout.ARTIFACTS_ROOT + layout.registry_path(
                model.resource.metadata.name, version
            )
        return entity.storage_source
