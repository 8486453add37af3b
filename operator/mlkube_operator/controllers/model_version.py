"""ModelVersion controller: number the version, copy its files into the registry, check them.

Registration is level-triggered and idempotent: the number is claimed on the RegisteredModel
(kube/versions.py), the copy lands at a key derived from model and number (a retry overwrites it
with the same bytes), and the phase ends Ready or FailedRegistration with a message that names what
is missing. Deleting a ModelVersion deletes its registry copy (a finalizer).

Before anything is read, the source must pass ``mlkube.sources``' rule (its namespace's prefix or
an allowlisted one), whatever its form: the operator's key reads every namespace, so it does not
rely on the tracking server having checked (issue 13). A storage error ends the registration too:
the store's final answers (access denied, no such bucket) at once, transient ones (unreachable,
5xx) after STORAGE_ATTEMPTS attempts; a failed registration leaves no partial copy behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import kopf

from mlkube import layout
from mlkube.api import ModelVersion, SpecError, parse
from mlkube.api.common import ConditionStatus
from mlkube.api.kinds import MODEL_VERSION, REGISTERED_MODEL, RUN
from mlkube.api.model_version import ModelVersionPhase
from mlkube.objects import ObjectNotFound, ObjectStore, ObjectStoreError, ObjectStoreRefused
from mlkube.sources import SourceRefused, SourceRule
from mlkube.storage import (
    S3Location,
    StorageError,
    copy_prefix,
    delete_prefix,
    list_keys,
    read_text,
)
from mlkube_operator import metrics
from mlkube_operator.controllers.context import (
    Context,
    SettingsError,
    body_of,
    now,
    ready_condition,
)
from mlkube_operator.controllers.indexes import Indexes
from mlkube_operator.kube.errors import NotFound
from mlkube_operator.kube.versions import assign_version
from mlkube_operator.resources.registry import (
    LoggedModelSource,
    ModelInfo,
    RegistrationError,
    RunSource,
    check_mlmodel,
    logged_model_artifacts,
    logged_model_document,
    parse_source,
    registry_location,
    run_artifacts,
)

log = logging.getLogger(__name__)
DONE = {ModelVersionPhase.READY.value, ModelVersionPhase.FAILED_REGISTRATION.value}
# Transient storage errors (after the S3 client's own retries of each request) are tried again
# this often, STORAGE_BACKOFF seconds apart and doubling, before the registration fails.
STORAGE_ATTEMPTS = 3
STORAGE_BACKOFF = 2.0
MESSAGE_LIMIT = 4096


class Waiting(Exception):
    """Registration cannot go on yet (e.g. the RegisteredModel is missing); try again later."""


class StorageFailed(Exception):
    """Object storage failed the copy for good; the message says how and whether it was retried."""


def experiment_id_of(indexes: Indexes, namespace: str, experiment: str) -> str:
    """The id of a run's experiment, from the index (Waiting until it has one)."""
    found = indexes.experiment(namespace, experiment) or {}
    if not found.get("experimentId"):
        raise Waiting(f"experiment {experiment!r} has no id yet")
    return str(found["experimentId"])


def is_pending(meta: kopf.Meta, status: kopf.Status, **_: Any) -> bool:
    """A version still to register (not Ready, not failed, not being deleted)."""
    return not meta.get("deletionTimestamp") and status.get("phase") not in DONE


class ModelVersionReconciler:
    def __init__(
        self,
        ctx: Context,
        objects: ObjectStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``objects`` defaults to the context's store (the settings' S3 endpoint)."""
        self.ctx = ctx
        s = ctx.settings
        self.storage = ctx.storage
        try:
            self.sources = SourceRule.of(s.s3_bucket, s.registry_source_allowlist)
        except ValueError as err:
            raise SettingsError(str(err)) from None
        self.sleep = sleep
        self._objects = objects

    @property
    def s3(self) -> ObjectStore:
        return self.ctx.objects if self._objects is None else self._objects

    def reconcile(self, indexes: Indexes, namespace: str, name: str) -> None:
        with self.ctx.locks.hold(f"mv/{namespace}/{name}"), metrics.reconciling("ModelVersion"):
            self._reconcile(indexes, namespace, name)

    def _reconcile(self, indexes: Indexes, namespace: str, name: str) -> None:
        kube = self.ctx.kube
        try:
            # A fresh read under the lock (not the handler's body): registration copies files,
            # and a version that a concurrent reconcile just finished must not be copied again.
            obj = kube.get(MODEL_VERSION, namespace, name)
        except NotFound:
            return
        meta = obj["metadata"]
        status = obj.get("status") or {}
        if meta.get("deletionTimestamp") or status.get("phase") in DONE:
            return
        try:
            version = parse(ModelVersion, obj)
        except SpecError as err:
            self._finish(obj, None, "; ".join(err.problems), "InvalidSpec")
            return
        model = version.spec.model
        if (meta.get("labels") or {}).get(layout.MODEL_LABEL) != model:
            kube.patch(
                MODEL_VERSION,
                namespace,
                name,
                {"metadata": {"labels": {layout.MODEL_LABEL: model}}},
            )
        try:
            number, obj = assign_version(kube, namespace, model, obj)
        except NotFound:
            self._pending(
                obj,
                f"RegisteredModel {model!r} does not exist in {namespace}; create "
                "it (kubectl apply, or MlflowClient.create_registered_model)",
            )
            return
        if not status.get("phase"):
            kube.patch(
                MODEL_VERSION,
                namespace,
                name,
                {"status": {"phase": ModelVersionPhase.PENDING_REGISTRATION.value}},
                status=True,
            )
        try:
            target, info = self._register(indexes, namespace, version.spec.source, model, number)
        except Waiting as wait:
            self._pending(obj, str(wait))
            return
        except SourceRefused as err:
            self._finish(obj, number, str(err), "SourceRefused")
            return
        except RegistrationError as err:
            self._finish(obj, number, str(err), "FailedRegistration")
            return
        except StorageFailed as err:
            self._finish(obj, number, str(err), "StorageError")
            return
        self._finish(
            obj,
            number,
            "",
            "Registered",
            storage=str(target),
            flavors=info.flavors,
            signature=info.signature,
        )

    def _register(
        self, indexes: Indexes, namespace: str, source: str, model: str, number: int
    ) -> tuple[S3Location, ModelInfo]:
        """``_copy``, with transient storage errors tried again and every storage error ended
        in StorageFailed; any failure removes what was copied so far."""
        target = registry_location(self.storage.bucket, namespace, model, number)
        attempt, delay = 1, STORAGE_BACKOFF
        while True:
            try:
                return self._copy(indexes, namespace, source, target)
            except (StorageError, ObjectStoreRefused) as err:
                self._discard(target)
                raise StorageFailed(
                    f"object storage refused the copy of {source}: {err} (a final answer, not "
                    "retried; fix the source or the store's permissions and register again)"
                ) from None
            except (ObjectStoreError, ObjectNotFound) as err:
                if attempt == STORAGE_ATTEMPTS:
                    self._discard(target)
                    raise StorageFailed(
                        f"object storage failed the copy of {source} {attempt} times, the last "
                        f"with: {err} (a transient error, retried {attempt - 1} times over "
                        f"{STORAGE_BACKOFF * (2 ** (attempt - 1) - 1):.0f} s; register again "
                        "once the store answers)"
                    ) from None
                log.warning("copying %s, attempt %d: %s", source, attempt, err)
                self.sleep(delay)
                attempt, delay = attempt + 1, delay * 2
            except (RegistrationError, SourceRefused):
                self._discard(target)
                raise

    def _discard(self, target: S3Location) -> None:
        """Best effort: a failed registration leaves no partial copy (when the store answers)."""
        with contextlib.suppress(ObjectStoreError):
            delete_prefix(self.s3, target)

    def _copy(
        self, indexes: Indexes, namespace: str, source: str, target: S3Location
    ) -> tuple[S3Location, ModelInfo]:
        """Copy the version's files into the registry (same key, same bytes on a retry) and
        check its MLmodel; SourceRefused before anything is read from a source outside the
        rule, RegistrationError saying what is missing."""
        location = self._source_location(indexes, namespace, source)
        self.sources.admit(namespace, location)
        copied = copy_prefix(self.s3, location, target)
        if copied == 0:
            raise RegistrationError(f"no files at {source} ({location})")
        try:
            text = read_text(self.s3, S3Location(target.bucket, target.key + "/MLmodel"))
        except ObjectNotFound:
            raise RegistrationError(
                f"no MLmodel file at {source}: the source must be an MLflow "
                f"model directory (found {copied} other files)"
            ) from None
        return target, check_mlmodel(text, source)

    def _source_location(self, indexes: Indexes, namespace: str, source: str) -> S3Location:
        parsed = parse_source(source)
        bucket = self.storage.bucket
        if isinstance(parsed, S3Location):
            return parsed
        if isinstance(parsed, LoggedModelSource):
            return self._logged_model(namespace, parsed.model_id)[1]
        assert isinstance(parsed, RunSource)
        run = self._run_by_id(indexes, namespace, parsed.run_id)
        if run is None:
            raise RegistrationError(f"run {parsed.run_id} not found in namespace {namespace}")
        experiment = experiment_id_of(indexes, namespace, run["experiment"])
        location = run_artifacts(bucket, namespace, experiment, parsed)
        if list_keys(self.s3, location):
            return location
        # MLflow 3 keeps a model logged in a run as a logged model of its own: runs:/<id>/<name>
        # means the logged model of that name among the run's outputs.
        for output in run["modelOutputs"]:
            document, artifacts = self._logged_model(namespace, str(output.get("modelId")))
            if document.get("name") == parsed.path:
                return artifacts
        return location

    def _run_by_id(self, indexes: Indexes, namespace: str, run_id: str) -> dict[str, Any] | None:
        """The experiment and model outputs of the Run with ``run_id`` (runs:/ sources name runs
        of any kind): one label-selected LIST for a tracking-only Run (the tracking server labels
        those with their id from birth), one GET for a project Run (found in the index), a LIST
        of the namespace's Runs for one applied by hand. Only pending versions ask, so the
        operator need not watch every Run."""
        name = indexes.project_run_named_by_id(namespace, run_id)
        if name is not None:
            try:
                found = [self.ctx.kube.get(RUN, namespace, name)]
            except NotFound:
                found = []
        else:
            found, _ = self.ctx.kube.list(RUN, namespace, f"{layout.RUN_ID_LABEL}={run_id}")
        if not found:
            # A Run applied by hand without spec.project carries no label: look at them all
            # (only when both paths above missed, and only while a version is pending).
            runs, _ = self.ctx.kube.list(RUN, namespace)
            found = [r for r in runs if (r.get("status") or {}).get("runId") == run_id]
        if not found:
            return None
        run = found[0]
        return {
            "experiment": (run.get("spec") or {}).get("experiment") or "default",
            "modelOutputs": [dict(o) for o in (run.get("status") or {}).get("modelOutputs") or []],
        }

    def _logged_model(self, namespace: str, model_id: str) -> tuple[dict[str, Any], S3Location]:
        """A logged model's record and where its files are."""
        bucket = self.storage.bucket
        try:
            text = read_text(self.s3, logged_model_document(bucket, namespace, model_id))
        except ObjectNotFound:
            raise RegistrationError(
                f"logged model {model_id} not found in namespace {namespace}"
            ) from None
        record = json.loads(text)
        return record, logged_model_artifacts(bucket, namespace, text, model_id)

    def _pending(self, obj: dict[str, Any], message: str) -> None:
        status = obj.get("status") or {}
        if status.get("message") == message:
            return
        meta = obj["metadata"]
        self.ctx.kube.patch(
            MODEL_VERSION,
            meta["namespace"],
            meta["name"],
            {
                "status": {
                    "phase": ModelVersionPhase.PENDING_REGISTRATION.value,
                    "message": message,
                    "conditions": ready_condition(
                        status.get("conditions") or [],
                        ConditionStatus.FALSE,
                        "Waiting",
                        message,
                        meta.get("generation"),
                        now(),
                    ),
                }
            },
            status=True,
        )
        kopf.event(body_of(obj), type="Normal", reason="Waiting", message=message)

    def _finish(  # noqa: PLR0917
        self,
        obj: dict[str, Any],
        number: int | None,
        message: str,
        reason: str,
        storage: str | None = None,
        flavors: list[str] | None = None,
        signature: dict[str, str] | None = None,
    ) -> None:
        meta = obj["metadata"]
        message = message[:MESSAGE_LIMIT]  # the schema's bound: a longer one would never land
        ok = storage is not None
        phase = ModelVersionPhase.READY if ok else ModelVersionPhase.FAILED_REGISTRATION
        new: dict[str, Any] = {
            "phase": phase.value,
            "message": message or None,
            "observedGeneration": meta.get("generation"),
            "conditions": ready_condition(
                (obj.get("status") or {}).get("conditions") or [],
                ConditionStatus.TRUE if ok else ConditionStatus.FALSE,
                reason,
                message or f"registered as version {number}",
                meta.get("generation"),
                now(),
            ),
        }
        if ok:
            new.update(storageUri=storage, flavors=flavors, signature=signature or None)
        self.ctx.kube.patch(
            MODEL_VERSION, meta["namespace"], meta["name"], {"status": new}, status=True
        )
        if ok:
            kopf.event(
                body_of(obj),
                type="Normal",
                reason="Registered",
                message=f"version {number} registered in {storage}",
            )
        else:
            kopf.event(body_of(obj), type="Warning", reason=reason, message=message[:1000])

    def remove_copy(self, obj: dict[str, Any]) -> None:
        storage = (obj.get("status") or {}).get("storageUri")
        if storage:
            deleted = delete_prefix(self.s3, S3Location.parse(storage))
            log.info("deleted %d objects of %s", deleted, storage)


def _reconciler(memo: kopf.Memo) -> ModelVersionReconciler:
    reconciler: ModelVersionReconciler = memo["versions"]
    return reconciler


@kopf.on.event(MODEL_VERSION.group, MODEL_VERSION.version, MODEL_VERSION.plural, when=is_pending)
def version_event(
    type: str, namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    if type != "DELETED" and namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, name)


@kopf.timer(
    MODEL_VERSION.group,
    MODEL_VERSION.version,
    MODEL_VERSION.plural,
    interval=5,
    initial_delay=3,
    when=is_pending,
)
def version_retry(namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """Registration that waits (for its RegisteredModel, say) is retried here; a Kopf timer,
    because a failed event handler is not retried. Only pending versions have one."""
    if namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, name)


@kopf.on.delete(MODEL_VERSION.group, MODEL_VERSION.version, MODEL_VERSION.plural)
def version_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """The registry copy goes with the version."""
    _reconciler(memo).remove_copy(dict(body))


@kopf.on.delete(REGISTERED_MODEL.group, REGISTERED_MODEL.version, REGISTERED_MODEL.plural)
def model_deleted(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A registered model goes only once its versions have gone (read from the index)."""
    if namespace is None:
        return
    remaining = sorted(str(v["name"]) for v in Indexes.of(kwargs).versions_of(namespace, name))
    if remaining:
        shown = ", ".join(remaining[:5]) + (" ..." if len(remaining) > 5 else "")
        raise kopf.TemporaryError(
            f"{len(remaining)} ModelVersions of {name} still exist ({shown}); delete them first: "
            f"kubectl delete modelversions -n {namespace} -l {layout.MODEL_LABEL}={name}",
            delay=10,
        )
