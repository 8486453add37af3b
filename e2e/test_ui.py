"""Issue 14: MLflow's web UI works on mlkube as on `mlflow server`, in a real headless Chromium.

The same data, logged with the stock `mlflow` client (e2e/ui/data.py), and the same page script
(e2e/ui/pages.py) on two servers: `mlflow server` of the pinned version (SQLite, proxied artifacts,
workspaces on, so that the UI picks its workspace as it does on mlkube) and mlkube's tracking
server on the local cluster, with the session user's token. On each, every page must show what
it should, and every failed request and console error must be on the allowlist
(e2e/ui/allowlist.py); then the endpoints that answered must be the same on both.

Screenshots and each server's request log are kept under the test's temporary directory and in
.local/ui-screenshots/<server>/.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from tests.integration.tracking.conftest import start_mlflow, stop, wait_healthy

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.fixtures import fresh_namespace
from e2e.cluster.identities import auth_headers
from e2e.test_runs import EXAMPLE, ended, mlkube_run
from e2e.ui import allowlist, data
from e2e.ui.pages import ProjectRun, Report, Target, run_pages

# The first test also waits for the session's cluster, and a page that fails waits out its bound
# (pages.WAIT_MS) before the script goes on: more than the default 600 s on a busy machine.
pytestmark = pytest.mark.timeout(1800)

KEPT = ROOT / ".local" / "ui-screenshots"
PROJECT_EXPERIMENT = "ui-project"


def keep(report: Report, server: str, shots: Path) -> None:
    """The request log beside the screenshots, and both copied to .local/ui-screenshots."""
    log = {
        "failures": report.failures,
        "calls": [asdict(call) for call in report.network.calls],
        "console": [asdict(error) for error in report.network.console],
    }
    (shots / "network.json").write_text(json.dumps(log, indent=1))
    kept = KEPT / server
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(shots, kept)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The page script on `mlflow server` (stopped before the fixture returns)."""
    state = tmp_path_factory.mktemp("mlflow-server")
    process, url = start_mlflow(state, state / "server.log", "--enable-workspaces")
    try:
        wait_healthy(url, process, state / "server.log")
        workspace = "ui-test"
        mlflow.set_tracking_uri(url)
        try:
            mlflow.create_workspace(workspace)
        finally:
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None resets to the default
        logged = data.log_everything(url, workspace)
        shots = state / "screenshots"
        report = run_pages(Target(url, workspace, logged), shots)
    finally:
        stop(process)
    keep(report, "mlflow", shots)
    return report


def project_run(cluster: LocalCluster, namespace: str, tracking_uri: str, name: str) -> ProjectRun:
    """The Run ``name`` once it succeeded, as the page script finds it."""
    status = ended(cluster, namespace, name, timeout=600)["status"]
    assert status["phase"] == "Succeeded", status
    with data.pointed_at(tracking_uri, namespace):
        experiment_id = MlflowClient().get_run(status["runId"]).info.experiment_id
    return ProjectRun(experiment_id, status["runId"], namespace)


@pytest.fixture(scope="module")
def on_mlkube(
    operator: LocalCluster, tracking_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Report]:
    """The page script on mlkube's tracking server, in a fresh namespace (the workspace), with
    examples/sklearn-elasticnet run as a project Run for the Kubernetes facts on its page (it
    trains while the client logs the rest)."""
    with fresh_namespace(operator) as namespace:
        name = mlkube_run(operator, namespace, str(EXAMPLE), "--experiment", PROJECT_EXPERIMENT)
        logged = data.log_everything(tracking_uri, namespace)
        run = project_run(operator, namespace, tracking_uri, name)
        shots = tmp_path_factory.mktemp("mlkube-ui") / "screenshots"
        report = run_pages(Target(tracking_uri, namespace, logged, auth_headers(), run), shots)
        keep(report, "mlkube", shots)
        yield report


def problems(report: Report) -> list[str]:
    """Failed pages, then failed requests and console errors not on the allowlist."""
    found = list(report.failures)
    found += sorted(
        {
            f"{call.page}: {call.endpoint} -> {call.status or call.failure}"
            for call in report.network.calls
            if call.failed and not allowlist.allowed_call(call)
        }
    )
    found += sorted(
        {
            f"{error.page}: console: {error.text.splitlines()[0][:200]}"
            for error in report.network.console
            if not allowlist.allowed_console(error)
        }
    )
    return found


def test_the_page_script_passes_on_mlflow_server(reference: Report) -> None:
    """The script's expectations are MLflow's own: they hold on MLflow's server."""
    found = problems(reference)
    assert not found, "\n".join(found)


def test_every_page_works_on_mlkube(on_mlkube: Report) -> None:
    found = problems(on_mlkube)
    assert not found, "\n".join(found)


def test_the_pages_call_the_same_endpoints_successfully(
    reference: Report, on_mlkube: Report
) -> None:
    def answered(report: Report) -> set[str]:
        return report.network.succeeded() - set(allowlist.ENDPOINTS)

    mlflow_side, mlkube_side = answered(reference), answered(on_mlkube)
    differences = [f"only on mlflow server: {name}" for name in sorted(mlflow_side - mlkube_side)]
    differences += [f"only on mlkube: {name}" for name in sorted(mlkube_side - mlflow_side)]
    assert not differences, "\n".join(differences)
