"""The experiments of the Kubernetes tracking store: Experiment resources, the Default
experiment of each workspace, and ids given through the one writer of status.experimentId
(``mlkube_operator.kube.ids.ensure_experiment_id``)."""

from __future__ import annotations

import secrets
from typing import Any

from mlkube.api.kinds import EXPERIMENT
from mlkube_operator.kube import AlreadyExists, KubeError, NotFound
from mlkube_operator.kube.ids import IdAllocationError, ensure_experiment_id
from mlkube_operator.server.entities import Experiment, LifecycleStage, ViewType
from mlkube_operator.server.errors import (
    ErrorCode,
    MlflowError,
    already_exists,
    invalid,
    not_found,
)
from mlkube_operator.server.store.shared.clock import now_ms
from mlkube_operator.server.store.shared.errors import answering, unavailable
from mlkube_operator.server.store.tracking import rules
from mlkube_operator.server.store.tracking.base import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
)
from mlkube_operator.server.store.tracking.kube import convert
from mlkube_operator.server.store.tracking.kube.cache import ExperimentRecord
from mlkube_operator.server.store.tracking.kube.parts import KubeParts
from mlkube_operator.server.store.tracking.kube.values import from_ms

Obj = dict[str, Any]
ATTEMPTS = 8


class KubeExperiments(KubeParts):
    def _assign_id(self, namespace: str, record: ExperimentRecord) -> ExperimentRecord:
        """Give an Experiment its id if it has none yet (one just created, or made with kubectl).

        The id comes from ``ensure_experiment_id``, the one writer of status.experimentId: the
        operator calls it too, whoever comes first assigns it and the other reads it. The floor
        (the highest id this server has seen, plus one) keeps a lost or reset counter from
        handing out a live id. The server's own fields follow in a patch of their own.
        """
        if record.entity is not None:
            return record
        name = record.resource.metadata.name
        try:
            with answering(f"numbering experiment {name}", lambda: _deleted(name)):
                ensure_experiment_id(
                    self.client,
                    self.id_namespace,
                    namespace,
                    name,
                    floor=self.cache.max_experiment_id + 1,
                )
                obj = self._stamp(namespace, name)
        except IdAllocationError:
            raise MlflowError(
                ErrorCode.TEMPORARILY_UNAVAILABLE,
                "could not allocate an experiment id: too many concurrent creations; retry",
            ) from None
        record = self.cache.put_experiment(obj) or record
        if record.entity is None:
            raise unavailable(RuntimeError(f"experiment {name} has no id yet"))
        return record

    def _stamp(self, namespace: str, name: str) -> Obj:
        """Write creation time and lifecycle stage of an experiment that has none yet (never its
        id: ``ensure_experiment_id`` alone writes that)."""
        obj = self.client.get(EXPERIMENT, namespace, name)
        status = obj.get("status") or {}
        if status.get("creationTime"):
            return obj
        fields = convert.experiment_stamp(now_ms(), status.get("lifecycleStage") is None)
        return self.client.patch(EXPERIMENT, namespace, name, {"status": fields}, status=True)

    def _default(self, namespace: str) -> ExperimentRecord:
        record = self.cache.experiment_by_resource(namespace, convert.DEFAULT_RESOURCE)
        if record is None:
            body = convert.new_experiment(DEFAULT_EXPERIMENT_NAME, None, {})
            with answering("creating the Default experiment", lambda: _no_workspace(namespace)):
                try:
                    obj = self.client.create(EXPERIMENT, namespace, body)
                except AlreadyExists:
                    obj = self.client.get(EXPERIMENT, namespace, convert.DEFAULT_RESOURCE)
            record = self._cached(obj, "the Default experiment")
        return self._assign_id(namespace, record)

    def _cached(self, obj: Obj, what: str) -> ExperimentRecord:
        record = self.cache.put_experiment(obj)
        if record is None:
            raise MlflowError(ErrorCode.INTERNAL_ERROR, f"{what} is invalid")
        return record

    def _experiment(self, namespace: str, experiment_id: str) -> ExperimentRecord:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            return self._default(namespace)
        record = self.cache.experiment(namespace, experiment_id)
        if record is None or record.entity is None:
            record = self._listed_experiment(namespace, experiment_id)
        if record is None or record.entity is None:
            raise not_found(f"no experiment with id {experiment_id!r} in workspace {namespace!r}")
        return record

    def _listed_experiment(self, namespace: str, experiment_id: str) -> ExperimentRecord | None:
        """An id the watch has not brought yet: another replica may have numbered the
        experiment a moment ago (issue 17's soak: a client's next call reached the other
        replica first). The namespace's Experiments are read from the API server into the
        cache; ids are decimal, so anything else is not looked for."""
        if not experiment_id.isdigit():
            return None
        try:
            objects, _ = self.client.list(EXPERIMENT, namespace)
        except NotFound:
            return None
        except KubeError as err:
            raise unavailable(err) from None
        for obj in objects:
            self.cache.put_experiment(obj)
        return self.cache.experiment(namespace, experiment_id)

    @staticmethod
    def _entity(record: ExperimentRecord) -> Experiment:
        assert record.entity is not None
        return record.entity

    def create_experiment(
        self, workspace: str, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        if artifact_location and not artifact_location.startswith("s3://"):
            raise invalid(
                f"artifact_location {artifact_location!r} is not supported: mlkube keeps "
                "artifacts in object storage; give an s3:// URI or leave it empty"
            )
        self._default(workspace)
        if self.cache.experiment_by_name(workspace, name) is not None:
            raise already_exists(f"an experiment named {name!r} already exists")
        body = convert.new_experiment(name, artifact_location, tags)
        with answering(f"creating experiment {name!r}", lambda: _no_workspace(workspace)):
            try:
                obj = self.client.create(EXPERIMENT, workspace, body)
            except AlreadyExists:
                obj = self._create_renamed(workspace, name, body)
        record = self._cached(obj, f"the new experiment {name!r}")
        # The operator may give it its id first: then that one is its id.
        return self._entity(self._assign_id(workspace, record)).experiment_id

    def _create_renamed(self, workspace: str, name: str, body: Obj) -> Obj:
        """Create ``body`` under a fresh resource name: its derived name may belong to an
        experiment since renamed."""
        if self.cache.experiment_by_name(workspace, name) is not None:
            raise already_exists(f"an experiment named {name!r} already exists")
        body["metadata"]["name"] = f"{body['metadata']['name'][:50]}-{secrets.token_hex(5)}"
        body["spec"]["displayName"] = name
        try:
            return self.client.create(EXPERIMENT, workspace, body)
        except AlreadyExists as err:
            raise unavailable(err) from None

    def get_experiment(self, workspace: str, experiment_id: str) -> Experiment:
        return self._entity(self._experiment(workspace, experiment_id))

    def get_experiment_by_name(self, workspace: str, name: str) -> Experiment:
        if name == DEFAULT_EXPERIMENT_NAME:
            return self._entity(self._default(workspace))
        record = self.cache.experiment_by_name(workspace, name)
        if record is None:
            raise not_found(f"no experiment named {name!r} in workspace {workspace!r}")
        return self._entity(self._assign_id(workspace, record))

    def list_experiments(self, workspace: str, view_type: ViewType) -> list[Experiment]:
        self._default(workspace)
        for name, record in list(self.cache.experiments[workspace].items()):
            if record.entity is None and name != convert.DEFAULT_RESOURCE:
                self._assign_id(workspace, record)
        return self.cache.list_experiments(workspace, view_type)

    def _patch_experiment(
        self, workspace: str, record: ExperimentRecord, spec: Obj | None, status: Obj | None
    ) -> None:
        name = record.resource.metadata.name
        with answering(f"updating experiment {name}", lambda: _deleted(name)):
            if spec is not None:
                obj = self.client.patch(EXPERIMENT, workspace, name, {"spec": spec})
                self.cache.put_experiment(obj)
            touched = {"lastUpdateTime": from_ms(now_ms()), **(status or {})}
            obj = self.client.patch(EXPERIMENT, workspace, name, {"status": touched}, status=True)
            self.cache.put_experiment(obj)

    def rename_experiment(self, workspace: str, experiment_id: str, new_name: str) -> None:
        record = self._experiment(workspace, experiment_id)
        rules.require_active_experiment(self._entity(record), "renaming it")
        other = self.cache.experiment_by_name(workspace, new_name)
        if other is not None and other.resource.metadata.name != record.resource.metadata.name:
            raise already_exists(f"an experiment named {new_name!r} already exists")
        self._patch_experiment(workspace, record, {"displayName": new_name}, None)

    def _set_experiment_stage(
        self, workspace: str, experiment_id: str, stage: LifecycleStage
    ) -> None:
        record = self._experiment(workspace, experiment_id)
        if self._entity(record).lifecycle_stage is stage:
            raise not_found(f"the experiment {experiment_id} is already {stage.value}")
        self._patch_experiment(workspace, record, None, {"lifecycleStage": stage.value})
        for run in self.cache.runs_of(workspace, record.resource.metadata.name):
            self._submit(workspace, run.resource.metadata.name, lambda d: d.set_stage(stage))

    def delete_experiment(self, workspace: str, experiment_id: str) -> None:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise invalid("the Default experiment (id 0) cannot be deleted")
        self._set_experiment_stage(workspace, experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, workspace: str, experiment_id: str) -> None:
        self._set_experiment_stage(workspace, experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, workspace: str, experiment_id: str, key: str, value: str) -> None:
        record = self._experiment(workspace, experiment_id)
        rules.require_active_experiment(self._entity(record), "tagging it")
        spec = {"description": value} if key == convert.NOTE_TAG else {"tags": {key: value}}
        self._patch_experiment(workspace, record, spec, None)

    def delete_experiment_tag(self, workspace: str, experiment_id: str, key: str) -> None:
        record = self._experiment(workspace, experiment_id)
        rules.require_active_experiment(self._entity(record), "changing its tags")
        if key not in self._entity(record).tags:
            raise not_found(f"the experiment {experiment_id} has no tag {key!r}")
        spec = {"description": ""} if key == convert.NOTE_TAG else {"tags": {key: None}}
        self._patch_experiment(workspace, record, spec, None)


def _deleted(name: str) -> MlflowError:
    return not_found(f"the experiment {name} was deleted")


def _no_workspace(namespace: str) -> MlflowError:
    return not_found(f"the workspace {namespace!r} does not exist: create the namespace first")
