"""Keeping a project Run's pod output after the pod is gone (issue 14): the I/O of
``pod_log_plan``, run by the Run's reconcile under the Run's lock.

For each pod of the Run that holds the operator's finalizer and has ended (or is being deleted),
in the order the Job made them: read its log (pods/log, ``limitBytes``), write it under the run's
artifact root, record it in ``status.podLogs`` with an Event ``PodLogsSaved``, then take the
finalizer off. Each step is safe to repeat, so an operator stopped between two steps does the rest
on its next look, with no second artifact: the key comes from the count in ``status.podLogs``
read fresh (the index may not have seen the last write yet), and a recorded pod is not written
again. Pods of a Run that is gone or being deleted are only let go.

Steady state costs no request: a Run with no pod holding the finalizer, and (once it ended) its
``PodLogsSaved`` condition set, is left alone.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import kopf

from mlkube import layout
from mlkube.api.kinds import RUN
from mlkube.api.run import MAX_POD_LOGS
from mlkube_operator.controllers import pod_log_plan as plan
from mlkube_operator.controllers.context import Context, body_of, now
from mlkube_operator.controllers.indexes import Indexes
from mlkube_operator.kube.errors import KubeError, NotFound

log = logging.getLogger(__name__)
Obj = dict[str, Any]
# The API server's answers to a log read that will not change on a retry: the container is
# gone, or never started (400), or the pod is (404).
UNREADABLE = frozenset({400, 404})


class PodLogSaver:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def reconcile(self, indexes: Indexes, namespace: str, name: str, view: Obj | None) -> None:
        """Save what the Run ``namespace/name`` (``view``: as the index holds it; None when it is
        gone) has to save, and conclude once it has ended and nothing waits."""
        waiting = sorted(
            (p for p in indexes.pods_of(namespace, name) if plan.awaiting(p)), key=plan.created
        )
        if view is None or view["metadata"].get("deletionTimestamp"):
            for pod in waiting:  # nothing to save them to
                self._release(namespace, pod)
            return
        due = [p for p in waiting if plan.finished(p)]
        if not due and (waiting or not plan.unconcluded(view)):
            return
        try:
            run = self.ctx.kube.get(RUN, namespace, name)
        except NotFound:
            for pod in waiting:
                self._release(namespace, pod)
            return
        run_id = (run.get("status") or {}).get("runId")
        for pod in due:
            labels = (pod.get("metadata") or {}).get("labels") or {}
            if labels.get(layout.RUN_ID_LABEL) == run_id:
                run = self._save(run, pod)
            # (else: a pod of an earlier Run of this name, which is gone)
            self._release(namespace, pod)
        # Conclude only once the index has seen the Run end too: a reconcile that still reads an
        # older copy would write the lifecycle conditions without this one.
        if len(due) == len(waiting) and plan.ended(run) and plan.ended(view):
            self._conclude(run)

    def _save(self, run: Obj, pod: Obj) -> Obj:
        """Write ``pod``'s log as an artifact of ``run`` and record it; the Run as it is after."""
        meta, status = run["metadata"], run.get("status") or {}
        namespace, pod_name = str(meta["namespace"]), str(pod["metadata"]["name"])
        saved: list[Obj] = list(status.get("podLogs") or [])
        if any(e.get("pod") == pod_name for e in saved):
            return run  # recorded by an earlier try that stopped before letting the pod go
        if len(saved) >= MAX_POD_LOGS:
            self._refused(run, pod_name, f"the run already keeps {MAX_POD_LOGS} pod logs")
            return run
        attempt = len(saved) + 1
        path = layout.pod_log_path(attempt, pod_name)
        try:
            where = plan.location(
                self.ctx.settings.s3_bucket, namespace, str(status.get("artifactUri") or ""), path
            )
        except layout.LayoutError as err:
            self._refused(run, pod_name, str(err))
            return run
        body, truncated = self._read(namespace, pod)
        self.ctx.objects.in_bucket(where.bucket).put(where.key, body)
        saved.append(plan.entry(pod_name, attempt, path, len(body), truncated))
        run = self.ctx.kube.patch(
            RUN, namespace, str(meta["name"]), {"status": {"podLogs": saved}}, status=True
        )
        cut = f", cut at {plan.LIMIT} bytes" if truncated else ""
        kopf.event(
            body_of(run),
            type="Normal",
            reason=plan.CONDITION,
            message=f"the log of pod {pod_name} (attempt {attempt}, {len(body)} bytes{cut}) is "
            f"the run's artifact {path}",
        )
        return run

    def _read(self, namespace: str, pod: Obj) -> tuple[bytes, bool]:
        """The artifact of ``pod``; a log the API server will not give (the container is gone)
        is replaced by what the kubelet kept of it. Other errors raise: tried again later."""
        source = plan.source(pod)
        if source.container is None:
            return plan.artifact(source, None)
        name = str(pod["metadata"]["name"])
        try:
            data = self.ctx.kube.read_pod_log(namespace, name, source.container, plan.LIMIT + 1)
        except KubeError as err:
            if err.status not in UNREADABLE:
                raise
            kept = plan.termination_message(pod, source.container)
            return plan.artifact(source, None, err.message or err.reason, kept)
        return plan.artifact(source, data)

    def _release(self, namespace: str, pod: Obj) -> None:
        with contextlib.suppress(NotFound):  # gone already
            self.ctx.kube.remove_pod_finalizer(
                namespace, str(pod["metadata"]["name"]), plan.FINALIZER
            )

    def _refused(self, run: Obj, pod: str, why: str) -> None:
        log.warning("run %s: not saving the log of pod %s: %s", run["metadata"]["name"], pod, why)
        kopf.event(
            body_of(run),
            type="Warning",
            reason="PodLogsNotSaved",
            message=f"the log of pod {pod} is not saved: {why}"[:1000],
        )

    def _conclude(self, run: Obj) -> None:
        meta = run["metadata"]
        conditions = plan.conclusion(run.get("status") or {}, meta.get("generation"), now())
        if conditions is not None:
            self.ctx.kube.patch(
                RUN,
                meta["namespace"],
                meta["name"],
                {"status": {"conditions": conditions}},
                status=True,
            )
