"""`mlkube-operator`: the Kopf entry point that runs every mlkube controller."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import kopf
from prometheus_client import start_http_server

from mlkube import layout
from mlkube.api.kinds import RUN
from mlkube.layout import DEPLOYMENT_LABEL, RUN_ID_LABEL, RUN_LABEL
from mlkube_operator.controllers.context import Context, SettingsError
from mlkube_operator.controllers.model_deployment import DeploymentReconciler
from mlkube_operator.controllers.model_version import ModelVersionReconciler
from mlkube_operator.controllers.run import RunReconciler
from mlkube_operator.controllers.sweep import SweepReconciler
from mlkube_operator.settings import Settings

log = logging.getLogger("mlkube_operator")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Kopf keeps handler progress in annotations: the CRDs' structural schemas would prune
    # the status.kopf field it uses by default.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="mlkube.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="mlkube.io", key="last-handled-configuration"
    )
    settings.persistence.finalizer = layout.FINALIZER
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.execution.max_workers = 8
    # Kopf watches only Runs without the run-id label: the tracking server labels the Runs it
    # makes (tracking-only ones) at creation, and their status changes with every logged value.
    # Filtering them out server-side keeps the operator's CPU a small fraction of the server's
    # (issue 12): their counts are the server's, and a runs:/ source looks its run up by label.
    settings.watching.label_selectors[RUN.group, RUN.plural] = f"!{RUN_ID_LABEL}"
    # Of Jobs, pods and Deployments only mlkube's own, selected by the API server rather than
    # by Kopf's handler filters after every event of every pod in the cluster has been read.
    settings.watching.label_selectors["batch", "jobs"] = RUN_LABEL
    settings.watching.label_selectors["", "pods"] = RUN_LABEL
    settings.watching.label_selectors["apps", "deployments"] = DEPLOYMENT_LABEL


def main(argv: Sequence[str] | None = None) -> int:
    del argv  # every setting comes from the environment (see settings.py)
    settings = Settings.from_env(os.environ)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    import mlkube_operator.controllers  # noqa: F401  (registers the handlers)

    try:
        ctx = Context.from_settings(settings)
        versions = ModelVersionReconciler(ctx)
    except SettingsError as err:
        log.error("%s", err)
        return 2
    runs = RunReconciler(ctx)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0")
    log.info(
        "watching %s", ", ".join(settings.namespaces) if settings.namespaces else "all namespaces"
    )
    kopf.run(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=settings.liveness_endpoint,
        memo=kopf.Memo(
            ctx=ctx,
            runs=runs,
            sweeps=SweepReconciler(ctx, runs),
            versions=versions,
            deployments=DeploymentReconciler(ctx),
        ),
        standalone=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
