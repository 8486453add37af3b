"""Run controller: a project Run becomes a Job, and the Job's fate becomes the Run's phase.

Level-triggered: every event of a Run, of its Job or of its pods (and a periodic resync) calls
``reconcile``, which reads the world, creates the Job if it is missing, aligns its ``suspend``, and
writes the lifecycle fields it owns. The Job's name is derived from the Run's, so a restarted
operator finds the Job it made instead of making a second one. Tracking-only runs (no
spec.project) belong to the tracking server and are left alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import kopf

from mlkube import layout
from mlkube.api import Run, RunPhase, SpecError, parse
from mlkube.api.common import ConditionStatus
from mlkube.api.kinds import EXPERIMENT, RUN
from mlkube_operator import metrics
from mlkube_operator.controllers.context import Context, body_of, iso, now, ready_condition
from mlkube_operator.controllers.run_status import TERMINAL, Observed, observe
from mlkube_operator.kube.errors import AlreadyExists, NotFound
from mlkube_operator.kube.ids import ensure_experiment_id
from mlkube_operator.resources.run import (
    MANAGED_BY,
    RUN_LABEL,
    JobSettings,
    RunIdentity,
    build_job,
    job_name,
    spec_problems,
)

log = logging.getLogger(__name__)
READY_BY_PHASE = {
    RunPhase.SUCCEEDED: ConditionStatus.TRUE,
    RunPhase.FAILED: ConditionStatus.FALSE,
    RunPhase.KILLED: ConditionStatus.FALSE,
}


def run_id_of(obj: dict[str, Any]) -> str:
    """A project Run's MLflow id: its uid without dashes (32 hex), stable across restarts."""
    existing = (obj.get("status") or {}).get("runId")
    return str(existing) if existing else str(obj["metadata"]["uid"]).replace("-", "")


def duration(start: datetime | None, end: datetime | None, at: datetime) -> str | None:
    if start is None:
        return None
    seconds = int(((end or at) - start).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


class RunReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def job_settings(self) -> JobSettings:
        s = self.ctx.settings
        return JobSettings(
            image=s.runtime_image,
            tracking_uri=s.tracking_uri,
            s3_endpoint=s.s3_endpoint,
            s3_bucket=s.s3_bucket,
            s3_secret=s.s3_secret,
            runner_image=s.runner_image,
            service_account=s.run_service_account,
            ca_bundle=self.ctx.ca_bundle is not None,
        )

    def reconcile(self, namespace: str, name: str) -> None:
        with self.ctx.locks.hold(f"run/{namespace}/{name}"), metrics.reconciling("Run"):
            self._reconcile(namespace, name)

    def _reconcile(self, namespace: str, name: str) -> None:
        kube = self.ctx.kube
        try:
            obj = kube.get(RUN, namespace, name)
        except NotFound:
            metrics.run_phase(f"{namespace}/{name}", None)
            return
        if obj["metadata"].get("deletionTimestamp") or not (obj.get("spec") or {}).get("project"):
            return
        status = obj.get("status") or {}
        phase = RunPhase(status["phase"]) if status.get("phase") else None
        if phase in TERMINAL:
            metrics.run_phase(f"{namespace}/{name}", phase)
            return
        try:
            run = parse(Run, obj)
        except SpecError as err:
            self._invalid(obj, err.problems)
            return
        problems = spec_problems(run.spec)
        if problems:
            self._invalid(obj, problems)
            return

        experiment_id, artifact_location = self._experiment(namespace, run.spec.experiment)
        ids = RunIdentity(run_id=run_id_of(obj), experiment_id=experiment_id)
        self.ctx.ensure_s3_secret(namespace)
        self.ctx.ensure_ca_bundle(namespace)
        job = self._job(run, ids, obj)
        pods = self.ctx.workloads.list_pods(namespace, f"job-name={job_name(name)}") if job else []
        seen = observe(phase, run.spec.suspend, job, pods, now())
        if seen is not None:
            self._write(obj, run, ids, seen, layout.run_artifact_uri(artifact_location, ids.run_id))

    # -- pieces ---------------------------------------------------------------------------------

    def _experiment(self, namespace: str, name: str) -> tuple[str, str]:
        kube = self.ctx.kube
        try:
            kube.get(EXPERIMENT, namespace, name)
        except NotFound:
            with contextlib.suppress(AlreadyExists):
                kube.create(
                    EXPERIMENT,
                    namespace,
                    {
                        "apiVersion": EXPERIMENT.group + "/" + EXPERIMENT.version,
                        "kind": EXPERIMENT.kind,
                        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
                        "spec": {},
                    },
                )
        # The experiment controller assigns ids under the same lock: no id is taken twice.
        with self.ctx.locks.hold(f"experiment/{namespace}/{name}"):
            experiment_id = ensure_experiment_id(
                kube, self.ctx.settings.id_namespace, namespace, name
            )
        experiment = kube.get(EXPERIMENT, namespace, name)
        # From the spec, as the experiment controller and the tracking server compute it, so the
        # URI does not depend on which of them got to the Experiment first.
        location = layout.experiment_artifact_location(
            experiment_id, (experiment.get("spec") or {}).get("artifactLocation") or None
        )
        return experiment_id, location

    def _job(self, run: Run, ids: RunIdentity, obj: dict[str, Any]) -> dict[str, Any] | None:
        namespace, name = run.metadata.namespace or "default", run.metadata.name
        workloads = self.ctx.workloads
        try:
            job = workloads.get_job(namespace, job_name(name))
        except NotFound:
            job = None
        if job is not None:
            owners = job["metadata"].get("ownerReferences") or []
            if not any(o.get("uid") == run.metadata.uid for o in owners):
                raise kopf.TemporaryError(
                    f"Job {job_name(name)} exists but belongs to another object; delete it",
                    delay=30,
                )
            if bool((job.get("spec") or {}).get("suspend")) != run.spec.suspend:
                job = workloads.patch_job(
                    namespace, job_name(name), {"spec": {"suspend": run.spec.suspend}}
                )
            return job
        if run.spec.suspend and not (obj.get("status") or {}).get("jobName"):
            return None  # suspended before it ever started: observe() will say Killed
        try:
            job = workloads.create_job(namespace, build_job(run, ids, self.job_settings()))
        except AlreadyExists:
            job = workloads.get_job(namespace, job_name(name))
        kopf.event(
            body_of(obj),
            type="Normal",
            reason="JobCreated",
            message=f"created Job {job_name(name)}",
        )
        return job

    def _write(
        self, obj: dict[str, Any], run: Run, ids: RunIdentity, seen: Observed, artifact_uri: str
    ) -> None:
        status = obj.get("status") or {}
        at = now()
        ready = READY_BY_PHASE.get(seen.phase, ConditionStatus.UNKNOWN)
        conditions = ready_condition(
            status.get("conditions") or [],
            ready,
            seen.reason or seen.phase.value,
            seen.message or "",
            run.metadata.generation,
            at,
        )
        new = {
            "runId": ids.run_id,
            "phase": seen.phase.value,
            "startTime": iso(seen.start_time),
            "endTime": iso(seen.end_time),
            "duration": duration(seen.start_time, seen.end_time, at),
            "artifactUri": artifact_uri,
            "jobName": job_name(run.metadata.name),
            "message": seen.message,
            "observedGeneration": run.metadata.generation,
            "conditions": conditions,
        }
        if all(status.get(k) == v for k, v in new.items() if k != "conditions") and [
            {**c, "lastTransitionTime": None} for c in status.get("conditions") or []
        ] == [{**c, "lastTransitionTime": None} for c in conditions]:
            return
        self.ctx.kube.patch(
            RUN,
            run.metadata.namespace or "default",
            run.metadata.name,
            {"status": new},
            status=True,
        )
        metrics.run_phase(f"{run.metadata.namespace}/{run.metadata.name}", seen.phase.value)
        if status.get("phase") != seen.phase.value:
            log.info("run %s/%s: %s", run.metadata.namespace, run.metadata.name, seen.phase.value)
            for kind, reason, message in seen.events:
                kopf.event(body_of(obj), type=kind, reason=reason, message=message)

    def _invalid(self, obj: dict[str, Any], problems: list[str]) -> None:
        message = "; ".join(problems)
        status = obj.get("status") or {}
        if status.get("phase") == RunPhase.FAILED.value and status.get("message") == message:
            return
        at = now()
        conditions = ready_condition(
            status.get("conditions") or [],
            ConditionStatus.FALSE,
            "InvalidSpec",
            message,
            obj["metadata"].get("generation"),
            at,
        )
        self.ctx.kube.patch(
            RUN,
            obj["metadata"]["namespace"],
            obj["metadata"]["name"],
            {
                "status": {
                    "runId": run_id_of(obj),
                    "phase": RunPhase.FAILED.value,
                    "endTime": iso(at),
                    "message": message[:4000],
                    "observedGeneration": obj["metadata"].get("generation"),
                    "conditions": conditions,
                }
            },
            status=True,
        )
        kopf.event(body_of(obj), type="Warning", reason="InvalidSpec", message=message[:1000])


# -- Kopf handlers: thin, they only route events to the reconciler ------------------------------


def _reconciler(memo: kopf.Memo) -> RunReconciler:
    reconciler: RunReconciler = memo["runs"]
    return reconciler


@kopf.on.event(RUN.group, RUN.version, RUN.plural)
def run_event(type: str, namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    if namespace is None:
        return
    if type == "DELETED":
        metrics.run_phase(f"{namespace}/{name}", None)
        return
    _reconciler(memo).reconcile(namespace, name)


@kopf.on.event("batch", "v1", "jobs", labels={RUN_LABEL: kopf.PRESENT, **MANAGED_BY})
def job_event(namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any) -> None:
    if namespace is not None:
        _reconciler(memo).reconcile(namespace, labels[RUN_LABEL])


@kopf.on.event("", "v1", "pods", labels={RUN_LABEL: kopf.PRESENT})
def pod_event(namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any) -> None:
    if namespace is not None:
        _reconciler(memo).reconcile(namespace, labels[RUN_LABEL])


@kopf.timer(RUN.group, RUN.version, RUN.plural, interval=30, initial_delay=5)
def run_resync(
    namespace: str | None, name: str, status: kopf.Status, memo: kopf.Memo, **_: Any
) -> None:
    """A safety net for missed events; runs that ended are left alone."""
    if namespace is not None and status.get("phase") not in {p.value for p in TERMINAL}:
        _reconciler(memo).reconcile(namespace, name)
