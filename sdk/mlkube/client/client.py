"""Client: mlkube's resources in one namespace of one cluster, and the steps users take with them.

    from mlkube.client import Client

    client = Client(namespace="team-a")            # kubeconfig and context as kubectl picks them
    run = client.submit_project("examples/sklearn-elasticnet", {"alpha": "0.3"}, "elasticnet")
    run = client.wait_for_run(run.metadata.name)
    client.register(run, "diabetes", alias="champion")
    client.deploy("diabetes@champion", "diabetes", wait=True)
    client.predict("diabetes", {"dataframe_split": {"columns": [...], "data": [[...]]}})

    sweep = client.submit_sweep(Path("sweep.yaml"), "examples/sklearn-elasticnet")
    sweep = client.wait_for_sweep(sweep)
    client.best(sweep)                             # status.best: run, parameters, value

Each kind has a typed Collection (``client.runs``, ``client.experiments``, ``client.models``,
``client.versions``, ``client.deployments``, ``client.sweeps``): create, get, list, watch, wait,
patch, delete, in the resource models of ``mlkube.api``. Errors are the types of
``mlkube.client.errors``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mlkube import layout
from mlkube.api import (
    Experiment,
    ModelDeployment,
    ModelVersion,
    RegisteredModel,
    Run,
    Stage,
    Sweep,
)
from mlkube.api.kinds import (
    EXPERIMENT,
    MODEL_DEPLOYMENT,
    MODEL_VERSION,
    REGISTERED_MODEL,
    RUN,
    SWEEP,
)
from mlkube.api.model_deployment import Canary, ModelRef
from mlkube.api.sweep import BestTrial
from mlkube.api.trial import TrialRun
from mlkube.client import health, logs, registry, serving, sweeps
from mlkube.client.collection import Collection, parse_object
from mlkube.client.connection import connect
from mlkube.client.kube import Kube
from mlkube.client.submit import Source, UploadProgress, project_of, run_body, slug

TERMINAL = logs.TERMINAL


class Client:
    """One namespace of one cluster. ``kubeconfig``, ``context`` and ``namespace`` choose them as
    kubectl's flags do; ``env`` is where ``MLFLOW_TRACKING_URI`` and ``MLFLOW_TRACKING_TOKEN``
    (for project uploads and status) are read, ``os.environ`` by default. ``kube`` replaces the
    connection that the kubeconfig would make."""

    def __init__(
        self,
        namespace: str | None = None,
        *,
        context: str | None = None,
        kubeconfig: str | None = None,
        env: Mapping[str, str] | None = None,
        kube: Kube | None = None,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        if kube is None:
            target = connect(kubeconfig, context, namespace, self.env)
            kube = Kube(target.api_client, target.server)
            self.context, self.namespace = target.context, target.namespace
        else:  # a Kube given (tests, or a caller that configured its own)
            self.context, self.namespace = context, namespace or "default"
        self.kube = kube
        self.server = kube.server
        self.experiments = Collection(self.kube, EXPERIMENT, Experiment, self.namespace)
        self.runs = Collection(self.kube, RUN, Run, self.namespace)
        self.models = Collection(self.kube, REGISTERED_MODEL, RegisteredModel, self.namespace)
        self.versions = Collection(self.kube, MODEL_VERSION, ModelVersion, self.namespace)
        self.deployments = Collection(self.kube, MODEL_DEPLOYMENT, ModelDeployment, self.namespace)
        self.sweeps = Collection(self.kube, SWEEP, Sweep, self.namespace)

    def close(self) -> None:
        self.kube.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def whoami(self) -> str | None:
        """Who the API server says these credentials are, or None."""
        return self.kube.whoami()

    # -- runs -------------------------------------------------------------------------------

    def submit_project(
        self,
        directory: str | Path | None,
        params: Mapping[str, str | int | float] | None = None,
        experiment: str = "default",
        *,
        entry_point: str = "main",
        name: str | None = None,
        image: str | None = None,
        source: Source | None = None,
        progress: UploadProgress | None = None,
        deadline_seconds: int | None = None,
        workers: int = 1,
    ) -> Run:
        """Upload the project in ``directory`` (``progress`` gets (bytes sent, total)) and create
        a Run of its ``entry_point`` with ``params`` in ``experiment``; the Run made. A remote
        project (archive URI, git, a path in the image) comes as ``source`` instead.
        ``deadline_seconds`` bounds the Run's time (``spec.activeDeadlineSeconds``); ``workers``
        above 1 runs it on that many pods, as ranks (``spec.workers``, docs/distributed.md)."""
        where = source or Source(directory=Path(directory) if directory is not None else None)
        project, base = project_of(where, self.env, self.namespace, progress)
        spec: dict[str, Any] = {
            "experiment": experiment,
            "project": project,
            "entryPoint": entry_point,
            "parameters": {k: str(v) for k, v in (params or {}).items()},
        }
        if image:
            spec["image"] = image
        if deadline_seconds is not None:
            spec["activeDeadlineSeconds"] = deadline_seconds
        if workers != 1:
            spec["workers"] = workers
        annotations = dict(where.annotations)
        # The API server records no creator on an object. This is who the API server says these
        # credentials are, as `mlkube run` claims it: anyone who can create Runs can write
        # another name here (docs/security.md), so it labels the run (mlflow.user); it
        # authorizes nothing.
        user = self.whoami()
        if user:
            annotations[layout.CREATED_BY_ANNOTATION] = user
        body = run_body(name, slug(base), spec, annotations)
        return parse_object(RUN, self.kube.create(RUN, self.namespace, body), Run)

    def wait_for_run(
        self, run: Run | str, timeout: float = 3600, progress: Callable[[Run], None] | None = None
    ) -> Run:
        """The Run once it has ended (Succeeded, Failed or Killed); WaitTimeout after
        ``timeout`` seconds. ``progress`` sees each change."""
        return self.runs.wait(_name(run), phases=TERMINAL, timeout=timeout, progress=progress)

    def logs(
        self,
        run: Run | str,
        follow: bool = True,
        *,
        container: str = logs.MAIN,
        timeout: float = 3600,
        waiting: logs.Waiting | None = None,
    ) -> Iterator[str]:
        """The lines of the Run's output; with ``follow``, as they come, until it has ended."""
        return logs.run_logs(
            self.kube,
            self.runs,
            _name(run),
            follow=follow,
            container=container,
            timeout=timeout,
            waiting=waiting,
        )

    def cancel(self, run: Run | str) -> Run:
        """Kill the Run (``spec.suspend: true``): the operator stops its pods and it ends in
        phase Killed."""
        return self.runs.patch(_name(run), {"spec": {"suspend": True}})

    # -- sweeps -----------------------------------------------------------------------------

    def submit_sweep(
        self,
        sweep: sweeps.SweepInput,
        project_dir: str | Path | None = None,
        *,
        name: str | None = None,
        source: Source | None = None,
        progress: UploadProgress | None = None,
    ) -> Sweep:
        """Create the Sweep ``sweep`` describes (YAML text, a YAML file as a ``Path``, a dict or
        a model), with the project in ``project_dir`` uploaded as every trial's project
        (``spec.template.project``), as ``submit_project`` uploads it; the Sweep made."""
        return sweeps.submit(self, sweep, project_dir, name=name, source=source, progress=progress)

    def trials(self, sweep: Sweep | str) -> list[TrialRun]:
        """The sweep's trials (its child Runs) in index order: parameters, phase, value."""
        return sweeps.trials(self, sweep)

    def wait_for_sweep(
        self,
        sweep: Sweep | str,
        timeout: float = 3600,
        progress: Callable[[Sweep], None] | None = None,
    ) -> Sweep:
        """The Sweep once it has ended (Succeeded or Failed) or is Suspended; WaitTimeout after
        ``timeout`` seconds. ``progress`` sees each change."""
        return sweeps.wait(self, sweep, timeout, progress)

    def best(self, sweep: Sweep | str) -> BestTrial | None:
        """The sweep's best finished trial (run, parameters, value), or None yet."""
        return sweeps.best(self, sweep)

    def suspend_sweep(self, sweep: Sweep | str) -> Sweep:
        """Pause the sweep (``spec.suspend``): no new trials, its running ones stopped (Killed);
        it shows phase Suspended until ``resume_sweep``."""
        return sweeps.suspend(self, sweep)

    def resume_sweep(self, sweep: Sweep | str) -> Sweep:
        """Go on with a suspended sweep: new trials up to maxRuns."""
        return sweeps.suspend(self, sweep, suspended=False)

    # -- the registry -----------------------------------------------------------------------

    def register(
        self,
        run_or_uri: Run | str,
        name: str,
        alias: str | None = None,
        *,
        path: str = registry.DEFAULT_PATH,
        wait: bool = True,
        timeout: float = 300,
    ) -> ModelVersion:
        """Register the model a Run logged at ``path`` (or a ``runs:/``, ``models:/m-``,
        ``s3://`` URI) as a new version of ``name``; with ``wait``, once it is Ready, and
        ``alias`` then points at it."""
        return registry.register(
            self, run_or_uri, name, alias, path=path, wait=wait, timeout=timeout
        )

    def set_alias(self, model: str, alias: str, version: int | None) -> RegisteredModel:
        """Point ``alias`` at ``version`` (None deletes the alias)."""
        return registry.set_alias(self, model, alias, version)

    def set_stage(self, model: str, version: int, stage: Stage | str) -> ModelVersion:
        return registry.set_stage(self, model, version, stage)

    def model_versions(self, model: str) -> list[ModelVersion]:
        return registry.versions_of(self, model)

    # -- serving ----------------------------------------------------------------------------

    def deploy(
        self,
        model_ref: str | ModelRef,
        name: str,
        canary: str | Canary | None = None,
        *,
        replicas: int | None = None,
        wait: bool = False,
        timeout: float = 300,
    ) -> ModelDeployment:
        """Serve ``model_ref`` (``diabetes@champion``, ``diabetes/3``) as ``name``."""
        return serving.deploy(
            self, model_ref, name, canary, replicas=replicas, wait=wait, timeout=timeout
        )

    def predict(self, deployment: str, data: Any, *, timeout: float = 60) -> Any:
        """The deployment's answer to ``data`` (a scoring request or a DataFrame)."""
        return serving.predict(self, deployment, data, timeout=timeout)

    # -- the platform -----------------------------------------------------------------------

    def status(self) -> list[health.Check]:
        """What is installed and whether it works (`mlkube status`)."""
        return health.report(self, self.env)


def _name(obj: Any) -> str:
    return obj if isinstance(obj, str) else str(obj.metadata.name)
