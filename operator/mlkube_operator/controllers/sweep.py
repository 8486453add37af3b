"""Sweep controller: a Sweep's trials are Runs it owns, created, counted and stopped from here.

Level-triggered (docs/sweeps.md): a Sweep's creation, spec change or the operator's start, any
event of one of its Runs (a trial's phase or metrics, the parent run), and a periodic timer all
call ``reconcile``, which reads the Sweep and its Runs from the Kopf indexes, asks
``sweep_plan.tally`` where the sweep stands, and makes only the writes that follow: the parent
run, the trials to create (named by index, so a repeated create answers AlreadyExists instead of
duplicating one), the trials to suspend when the sweep failed, the Sweep's status and the parent
run's lifecycle fields. Nothing is remembered between reconciles but the early-stopping clock
and the finished trials' metric histories (both only spare work: losing them costs a re-read).

Early stopping runs on the same timer, at most every ``earlyStopping.intervalSeconds``: it reads
the objective's history of running trials (and, once, of completed ones) from object storage
and stops the trials the median rule rejects with one patch: ``spec.suspend`` (the Run
controller then suspends the Job and the Run ends Killed) and the ``mlkube.io/pruned``
annotation (the step it was judged at), which tells "pruned" from "killed by a user".
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import kopf

from mlkube import layout
from mlkube.api import SpecError, Sweep, parse
from mlkube.api.kinds import RUN, SWEEP
from mlkube.api.sweep import SweepPhase
from mlkube.api.trial import Outcome, Trial, TrialRun, trial_of
from mlkube.metric_chunks import read_rows
from mlkube.objects import ObjectNotFound
from mlkube_operator import metrics
from mlkube_operator.controllers.context import Context, body_of, now
from mlkube_operator.controllers.indexes import Indexes, Obj, SweepIndexes
from mlkube_operator.controllers.run import RunReconciler
from mlkube_operator.controllers.run_plan import run_id_of
from mlkube_operator.controllers.sweep_plan import Tally, objective_points, tally, to_prune
from mlkube_operator.controllers.sweep_search import suggest
from mlkube_operator.controllers.sweep_status import parent_status, sweep_events, sweep_status
from mlkube_operator.kube.errors import AlreadyExists, KubeError, NotFound
from mlkube_operator.resources.sweep import build_parent, build_trial

log = logging.getLogger(__name__)
# How often the timer looks at a running Sweep (a re-plan from the indexes costs no request
# when nothing changed); early stopping acts at most every earlyStopping.intervalSeconds.
TICK = 5.0
# Finished trials' objective histories kept in memory (they never change), at most.
HISTORIES = 4096
Points = list[tuple[int, float]]


def seed_of(sweep: Sweep) -> int:
    """The sweep's seed: its spec's, else one derived from its uid (stable across restarts)."""
    if sweep.spec.seed is not None:
        return sweep.spec.seed
    return int(str(sweep.metadata.uid or "0").replace("-", "")[:8] or "0", 16)


class SweepReconciler:
    def __init__(self, ctx: Context, runs: RunReconciler) -> None:
        self.ctx = ctx
        self.runs = runs
        self._guard = threading.Lock()
        self._judged: dict[str, float] = {}  # sweep key -> when early stopping last looked
        self._finished: OrderedDict[str, Points] = OrderedDict()  # run id -> history

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self, kwargs: Mapping[str, Any], namespace: str, name: str) -> None:
        """Reconcile Sweep ``namespace/name`` from the indexes in a handler's ``kwargs``."""
        sweeps = SweepIndexes.of(kwargs)
        with self.ctx.locks.hold(f"sweep/{namespace}/{name}"), metrics.reconciling("Sweep"):
            obj = sweeps.sweep(namespace, name)
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                return
            try:
                sweep = parse(Sweep, obj)
            except SpecError as err:
                self._invalid(obj, "; ".join(err.problems))
                return
            parent = self._parent(sweeps, obj)
            if parent is None:
                return
            parent_id = run_id_of(parent)
            found = [trial_of(r, sweep.spec) for r in sweeps.trials_of(namespace, name)]
            trials = [t for t in found if t is not None]
            plan = tally(sweep.spec, trials)
            self._create(obj, sweep, trials, plan, parent_id)
            if plan.phase in (SweepPhase.FAILED, SweepPhase.SUSPENDED):
                self._suspend_running(namespace, trials)
            self._write_parent(Indexes.of(kwargs), obj, sweep, parent, plan.phase)
            self._write_status(obj, plan, parent_id)

    def _invalid(self, obj: Obj, message: str) -> None:
        status = obj.get("status") or {}
        if status.get("phase") == SweepPhase.FAILED.value and status.get("message") == message:
            return
        meta = obj["metadata"]
        plan = Tally(SweepPhase.FAILED, {}, status.get("progress") or "0/0", None, message=message)
        patch = sweep_status(
            status, plan, None, meta.get("generation"), now(), reason="InvalidSpec"
        )
        self._patch_status(obj, patch)
        kopf.event(body_of(obj), type="Warning", reason="InvalidSpec", message=message[:1000])

    def _parent(self, sweeps: SweepIndexes, obj: Obj) -> Obj | None:
        """The parent run, made when missing; None when a Run of its name is not the Sweep's."""
        meta = obj["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        parent = sweeps.parent(namespace, name)
        if parent is None:
            try:
                parent = self.ctx.kube.create(RUN, namespace, build_parent(obj))
                log.info("sweep %s/%s: created its parent run", namespace, name)
            except AlreadyExists:
                parent = self.ctx.kube.get(RUN, namespace, name)
        owners = (parent.get("metadata") or {}).get("ownerReferences") or []
        if not any(o.get("uid") == meta["uid"] for o in owners):
            message = (
                f"Run {name} exists but belongs to another object; delete it and the sweep goes on"
            )
            raise kopf.TemporaryError(message, delay=30)
        return parent

    def _create(
        self, obj: Obj, sweep: Sweep, trials: list[TrialRun], plan: Tally, parent_id: str
    ) -> None:
        """Create the trials ``plan`` names; each is suggested knowing the ones made before it."""
        namespace = str(obj["metadata"]["namespace"])
        known = [t.trial for t in trials]
        for index in plan.create:
            parameters = suggest(sweep.spec, seed_of(sweep), index, known)
            body = build_trial(obj, index, parameters, parent_id)
            try:
                self.ctx.kube.create(RUN, namespace, body)
            except AlreadyExists:
                continue  # made by an earlier reconcile the index has not shown yet
            shown = ", ".join(f"{k}={v}" for k, v in parameters.items())
            message = f"created trial {body['metadata']['name']} ({shown})"
            kopf.event(body_of(obj), type="Normal", reason="TrialCreated", message=message[:1000])
            known.append(Trial(index, parameters, Outcome.RUNNING))

    def _suspend_running(self, namespace: str, trials: list[TrialRun]) -> None:
        """A failed or suspended sweep stops the trials still running (they end Killed); once
        each, since a trial being stopped says so in its spec."""
        for trial in trials:
            if trial.trial.outcome == Outcome.RUNNING and not trial.stopping:
                with contextlib.suppress(NotFound):
                    patch = {"spec": {"suspend": True}}
                    self.ctx.kube.patch(RUN, namespace, trial.name, patch)

    def _write_parent(
        self, indexes: Indexes, obj: Obj, sweep: Sweep, parent: Obj, phase: SweepPhase
    ) -> None:
        namespace = str(obj["metadata"]["namespace"])
        experiment_id, location = self.runs.experiment(
            indexes, namespace, sweep.spec.template.experiment
        )
        del experiment_id  # the location already holds it
        run_id = run_id_of(parent)
        patch = parent_status(
            parent.get("status") or {},
            run_id,
            phase,
            obj["metadata"].get("creationTimestamp"),
            layout.run_artifact_uri(location, run_id),
            now(),
        )
        if patch is not None:
            with contextlib.suppress(NotFound):
                name = parent["metadata"]["name"]
                self.ctx.kube.patch(RUN, namespace, name, {"status": patch}, status=True)

    def _write_status(self, obj: Obj, plan: Tally, parent_id: str) -> None:
        status = obj.get("status") or {}
        generation = obj["metadata"].get("generation")
        patch = sweep_status(status, plan, parent_id, generation, now())
        if patch is None:
            return
        self._patch_status(obj, patch)
        for kind, reason, message in sweep_events(status, plan):
            kopf.event(body_of(obj), type=kind, reason=reason, message=message[:1000])
        if status.get("phase") != plan.phase.value:
            meta = obj["metadata"]
            log.info("sweep %s/%s: %s", meta["namespace"], meta["name"], plan.phase.value)

    def _patch_status(self, obj: Obj, patch: Obj | None) -> None:
        if patch is None:
            return
        meta = obj["metadata"]
        with contextlib.suppress(NotFound):
            self.ctx.kube.patch(
                SWEEP, meta["namespace"], meta["name"], {"status": patch}, status=True
            )

    # -- early stopping ----------------------------------------------------------------------

    def due(self, key: str, interval: float) -> bool:
        """Whether early stopping should look at Sweep ``key`` now (and note that it does)."""
        at = time.monotonic()
        with self._guard:
            if at - self._judged.get(key, -interval) < interval:
                return False
            self._judged[key] = at
            return True

    def prune(self, kwargs: Mapping[str, Any], namespace: str, name: str) -> None:
        """Stop the running trials of Sweep ``namespace/name`` that early stopping rejects."""
        sweeps = SweepIndexes.of(kwargs)
        obj = sweeps.sweep(namespace, name)
        if obj is None:
            return
        try:
            sweep = parse(Sweep, obj)
        except SpecError:
            return  # reconcile reports it
        rule = sweep.spec.early_stopping
        if rule is None or not self.due(f"{namespace}/{name}", rule.interval_seconds):
            return
        known = Indexes.of(kwargs).experiment(namespace, sweep.spec.template.experiment)
        experiment_id = (known or {}).get("experimentId")
        if not experiment_id:
            return
        views = {str(v["metadata"]["name"]): v for v in sweeps.trials_of(namespace, name)}
        running: dict[str, Points] = {}
        completed: list[Points] = []
        for view in views.values():
            trial = trial_of(view, sweep.spec)
            if trial is None or trial.run_id is None:
                continue
            outcome = trial.trial.outcome
            stopping = (view.get("spec") or {}).get("suspend")
            if outcome == Outcome.RUNNING and not stopping:
                running[trial.name] = self._history(sweep, namespace, experiment_id, trial.run_id)
            elif outcome == Outcome.COMPLETE:
                completed.append(
                    self._history(sweep, namespace, experiment_id, trial.run_id, keep=True)
                )
        for trial_name, step in to_prune(sweep.spec, running, completed).items():
            patch = {
                "metadata": {"annotations": {layout.PRUNED_ANNOTATION: str(step)}},
                "spec": {"suspend": True},
            }
            try:
                self.ctx.kube.patch(RUN, namespace, trial_name, patch)
            except NotFound:
                continue
            message = f"stopped trial {trial_name} at step {step}: worse than the median"
            kopf.event(body_of(obj), type="Normal", reason="TrialPruned", message=message)
            log.info("sweep %s/%s: %s", namespace, name, message)

    def _history(
        self, sweep: Sweep, namespace: str, experiment_id: str, run_id: str, keep: bool = False
    ) -> Points:
        """A trial's objective history (``keep``: a finished trial's, read once)."""
        with self._guard:
            if run_id in self._finished:
                return self._finished[run_id]
        prefix = layout.metrics_prefix(namespace, experiment_id, run_id)
        try:
            rows = read_rows(self.ctx.objects, prefix, sweep.spec.objective.metric).rows
        except ObjectNotFound:
            return []  # a compaction moved a chunk; the next look reads it
        except (OSError, KubeError) as err:
            log.warning("reading the history of run %s failed: %s", run_id, err)
            return []
        points = objective_points(rows)
        if keep:
            with self._guard:
                self._finished[run_id] = points
                while len(self._finished) > HISTORIES:
                    self._finished.popitem(last=False)
        return points


# -- Kopf handlers: thin, they only route events to the reconciler ------------------------------


def _reconciler(memo: kopf.Memo) -> SweepReconciler:
    reconciler: SweepReconciler = memo["sweeps"]
    return reconciler


@kopf.on.resume(SWEEP.group, SWEEP.version, SWEEP.plural)
@kopf.on.create(SWEEP.group, SWEEP.version, SWEEP.plural)
@kopf.on.update(SWEEP.group, SWEEP.version, SWEEP.plural)
def sweep_changed(namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """A Sweep was made or its spec changed (its own status writes do not come here)."""
    if namespace is not None:
        _reconciler(memo).reconcile(kwargs, namespace, name)


@kopf.on.event(RUN.group, RUN.version, RUN.plural, labels={layout.SWEEP_LABEL: kopf.PRESENT})
def trial_event(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **kwargs: Any
) -> None:
    """Any change of a trial (its phase, its metrics): re-plan its Sweep from the indexes."""
    if namespace is not None:
        _reconciler(memo).reconcile(kwargs, namespace, labels[layout.SWEEP_LABEL])


@kopf.on.event(RUN.group, RUN.version, RUN.plural, labels={layout.SWEEP_PARENT_LABEL: kopf.PRESENT})
def parent_event(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **kwargs: Any
) -> None:
    """The parent run appeared or changed: re-plan its Sweep (its run id is now known)."""
    if namespace is not None:
        _reconciler(memo).reconcile(kwargs, namespace, labels[layout.SWEEP_PARENT_LABEL])


def sweep_running(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") in (None, SweepPhase.RUNNING.value)


@kopf.timer(
    SWEEP.group, SWEEP.version, SWEEP.plural, interval=TICK, initial_delay=5, when=sweep_running
)
def sweep_tick(namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """A safety net for missed events, and the early-stopping clock, while the sweep runs."""
    if namespace is not None:
        reconciler = _reconciler(memo)
        reconciler.reconcile(kwargs, namespace, name)
        reconciler.prune(kwargs, namespace, name)
