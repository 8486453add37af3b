"""Run controller: a project Run becomes a Job, and the Job's fate becomes the Run's phase.

Level-triggered: a change of a project Run's spec (or its creation, or the operator's start), an
event of its Job or of its pods, and a periodic resync while the Run has not ended (or has pod logs
to save) all call ``reconcile``. It reads the Run, its Experiment, Job and pods from the Kopf
indexes (controllers/indexes.py), decides with ``run_plan.plan_run`` and makes only the writes the
plan names, so a Run that already says what the world says costs no request. The Job's name is
derived from the Run's, so a restarted operator finds the Job it made instead of making a second
one. Then the logs of its pods that ended are saved as artifacts of the run (pod_logs.py), also for
a Run that has ended: its pods wait for that, held by a finalizer.

What the operator does not react to: tracking writes. The tracking server writes params, metrics
and tags into a Run's status; status changes are not spec changes (no update handler fires), and
tracking-only Runs never reach Kopf: the Runs the tracking server makes carry the
``mlkube.io/run-id`` label from birth, and Kopf's Run watch selects ``!mlkube.io/run-id`` on the
API server (main.py). A Run without spec.project that lacks the label (one applied by hand) is
still filtered out by the handlers' field filters. Retries go
through Kopf: the create/update/resume handlers are retried when they raise, and the resync timer
covers the Job and pod events (a failed event handler is not retried by Kopf).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from mlkube import layout
from mlkube.api import Run, SpecError, parse
from mlkube.api.kinds import EXPERIMENT, RUN
from mlkube.layout import MANAGED_BY, RUN_LABEL
from mlkube_operator import metrics
from mlkube_operator.controllers.context import Context, body_of, now
from mlkube_operator.controllers.indexes import Indexes, Obj, lifecycle_view
from mlkube_operator.controllers.pod_log_plan import unconcluded
from mlkube_operator.controllers.pod_logs import PodLogSaver
from mlkube_operator.controllers.run_plan import Plan, invalid_plan, plan_run, run_id_of, settled
from mlkube_operator.kube.errors import AlreadyExists, NotFound
from mlkube_operator.kube.ids import ensure_experiment_id
from mlkube_operator.resources.identity import RUN_SERVICE_ACCOUNT
from mlkube_operator.resources.run import (
    JobSettings,
    RunIdentity,
    build_network_policy,
    job_name,
    spec_problems,
)

log = logging.getLogger(__name__)


class RunReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.pod_logs = PodLogSaver(ctx)

    def job_settings(self) -> JobSettings:
        s = self.ctx.settings
        return JobSettings(
            image=s.runtime_image,
            tracking_uri=s.tracking_uri,
            runner_image=s.runner_image,
            service_account=s.run_service_account or RUN_SERVICE_ACCOUNT,
            ca_bundle=self.ctx.ca_bundle is not None,
        )

    def reconcile(
        self, indexes: Indexes, namespace: str, name: str, seen: Obj | None = None
    ) -> None:
        """Reconcile Run ``namespace/name`` from the indexes (``seen``: the Run as the calling
        handler got it, used when the index does not hold it yet)."""
        with self.ctx.locks.hold(f"run/{namespace}/{name}"), metrics.reconciling("Run"):
            obj = indexes.run(namespace, name) or seen
            if obj is not None:
                if settled(obj):
                    phase = (obj.get("status") or {}).get("phase")
                    metrics.run_phase(f"{namespace}/{name}", phase)
                else:
                    self._execute(obj, self._plan(indexes, obj))
            # After the lifecycle: a pod's log is saved under the artifact URI that writes.
            self.pod_logs.reconcile(indexes, namespace, name, obj)

    def _plan(self, indexes: Indexes, obj: Obj) -> Plan:
        try:
            run = parse(Run, obj)
        except SpecError as err:
            return invalid_plan(obj, err.problems, now())
        problems = spec_problems(run)
        if problems:
            return invalid_plan(obj, problems, now())
        namespace, name = run.metadata.namespace or "default", run.metadata.name
        experiment_id, location = self.experiment(indexes, namespace, run.spec.experiment)
        ids = RunIdentity(run_id=run_id_of(obj), experiment_id=experiment_id)
        job = indexes.job(namespace, name)
        pods = indexes.pods_of(namespace, name) if job is not None else []
        uri = layout.run_artifact_uri(location, ids.run_id)
        return plan_run(obj, run, ids, uri, job, pods, self.job_settings(), now())

    def experiment(self, indexes: Indexes, namespace: str, name: str) -> tuple[str, str]:
        """The Run's experiment id and artifact location: from the index once the Experiment
        has an id; else the Experiment is made (if missing) and given its id, once."""
        known = indexes.experiment(namespace, name)
        if known is not None and known.get("experimentId"):
            experiment_id = str(known["experimentId"])
            spec_location = known.get("artifactLocation") or None
        else:
            experiment_id, spec_location = self._make_experiment(namespace, name, known is None)
        # From the spec, as the experiment controller and the tracking server compute it, so the
        # URI does not depend on which of them got to the Experiment first.
        return experiment_id, layout.experiment_artifact_location(experiment_id, spec_location)

    def _make_experiment(self, namespace: str, name: str, create: bool) -> tuple[str, str | None]:
        kube = self.ctx.kube
        if create:
            body = {
                "apiVersion": f"{EXPERIMENT.group}/{EXPERIMENT.version}",
                "kind": EXPERIMENT.kind,
                "metadata": {"name": name, "labels": dict(MANAGED_BY)},
                "spec": {},
            }
            with contextlib.suppress(AlreadyExists):
                kube.create(EXPERIMENT, namespace, body)
        # The experiment controller assigns ids under the same lock: no id is taken twice.
        with self.ctx.locks.hold(f"experiment/{namespace}/{name}"):
            experiment_id = ensure_experiment_id(
                kube, self.ctx.settings.id_namespace, namespace, name
            )
        spec = kube.get(EXPERIMENT, namespace, name).get("spec") or {}
        return experiment_id, spec.get("artifactLocation") or None

    def _execute(self, obj: Obj, plan: Plan) -> None:
        """Carry ``plan`` out: the Job, its suspend flag, the status, then the Events."""
        meta = obj["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        if plan.foreign_job is not None:
            raise kopf.TemporaryError(plan.foreign_job, delay=30)
        kube = self.ctx.kube
        if plan.create_job is not None:
            self.ctx.ensure_identity(namespace, self.ctx.run_identity())
            self.ctx.ensure_ca_bundle(namespace)
            kube.apply_network_policy(build_network_policy(namespace, name, meta["uid"]))
            if plan.create_service is not None:  # the ranks' DNS names (server-side apply)
                kube.apply_service(plan.create_service)
            with contextlib.suppress(AlreadyExists):  # made by an earlier try: its event follows
                kube.create_job(namespace, plan.create_job)
        if plan.suspend_job is not None:
            kube.patch_job(namespace, job_name(name), {"spec": {"suspend": plan.suspend_job}})
        if plan.status is not None:
            try:
                self.ctx.kube.patch(RUN, namespace, name, {"status": plan.status}, status=True)
            except NotFound:
                metrics.run_phase(f"{namespace}/{name}", None)
                return
            if (obj.get("status") or {}).get("phase") != plan.status.get("phase"):
                log.info("run %s/%s: %s", namespace, name, plan.status.get("phase"))
        for kind, reason, message in plan.events:
            kopf.event(body_of(obj), type=kind, reason=reason, message=message)
        metrics.run_phase(f"{namespace}/{name}", plan.phase)


# -- Kopf handlers: thin, they only route events to the reconciler ------------------------------


def _reconciler(memo: kopf.Memo) -> RunReconciler:
    reconciler: RunReconciler = memo["runs"]
    return reconciler


def is_project_run(spec: kopf.Spec, **_: Any) -> bool:
    """The operator's Runs; tracking-only Runs (no spec.project) belong to the tracking server."""
    return bool(spec.get("project"))


def needs_resync(body: kopf.Body, **_: Any) -> bool:
    """The operator may still have work: the Run has not ended, or its pods' logs are not all
    saved (its PodLogsSaved condition is not set yet)."""
    obj = dict(body)
    return not settled(obj) or unconcluded(obj)


# create/resume filter by field (no callback per event of the many tracking-only Runs); an update
# filter by field would fire only when that field changes, so update filters with when=.
@kopf.on.resume(RUN.group, RUN.version, RUN.plural, field="spec.project")
@kopf.on.create(RUN.group, RUN.version, RUN.plural, field="spec.project")
@kopf.on.update(RUN.group, RUN.version, RUN.plural, when=is_project_run)
def run_changed(
    namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A project Run was made or its spec changed (status writes do not come here)."""
    if namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, name, lifecycle_view(body))


@kopf.on.event(RUN.group, RUN.version, RUN.plural, field="spec.project")
async def run_gone(type: str, namespace: str | None, name: str, **_: Any) -> None:
    """A deleted project Run leaves the phase gauge (no finalizer: nothing else to undo)."""
    if type == "DELETED":
        metrics.run_phase(f"{namespace}/{name}", None)


@kopf.on.event("batch", "v1", "jobs", labels={RUN_LABEL: kopf.PRESENT, **MANAGED_BY})
def job_event(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **kwargs: Any
) -> None:
    if namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, labels[RUN_LABEL])


@kopf.on.event("", "v1", "pods", labels={RUN_LABEL: kopf.PRESENT})
def pod_event(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **kwargs: Any
) -> None:
    if namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, labels[RUN_LABEL])


@kopf.timer(
    RUN.group,
    RUN.version,
    RUN.plural,
    interval=30,
    initial_delay=5,
    field="spec.project",
    when=needs_resync,
)
def run_resync(
    namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A safety net for missed events and failed event handlers, while the Run has not ended
    or has pod logs to save; it reads only the indexes, so a Run whose status is right costs
    nothing here."""
    if namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, name, lifecycle_view(body))
