"""Issue 16: the whole lifecycle through the Python SDK alone (no kubectl, no YAML): submit the
example, wait for it, register its model with an alias, deploy the alias and predict through the
API server; the predictions equal those of the registered model loaded here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.scoring import COLUMNS, ROWS, local_predictions
from mlkube import layout
from mlkube.client import BadReference, Client, NotFound

EXAMPLE = ROOT / "examples" / "sklearn-elasticnet"


def test_submit_wait_register_deploy_predict(
    operator: LocalCluster, tracking_uri: str, namespace: str, tmp_path: Path
) -> None:
    import pandas as pd

    env = {**os.environ, **operator.env(), "MLFLOW_TRACKING_URI": tracking_uri}
    with Client(namespace, kubeconfig=str(operator.kubeconfig), env=env) as client:
        sent: list[tuple[int, int]] = []
        run = client.submit_project(
            EXAMPLE,
            {"alpha": 0.05},
            "sdk",
            progress=lambda done, total: sent.append((done, total)),
        )
        assert sent[-1][0] == sent[-1][1] > 0  # the archive went up, all of it
        seen: list[str | None] = []
        run = client.wait_for_run(run, timeout=600, progress=lambda r: seen.append(r.status.phase))
        assert run.status.phase == "Succeeded", run.status.message
        assert "Running" in seen
        assert any("alpha=0.05" in line for line in client.logs(run, follow=False))

        version = client.register(run, "diabetes", alias="champion")
        assert (version.status.phase, version.status.version) == ("Ready", 1)
        assert client.models.get("diabetes").spec.aliases == {"champion": 1}
        labelled = client.versions.list(f"{layout.MODEL_LABEL}=diabetes")
        assert [v.metadata.name for v in labelled] == [version.metadata.name]

        deployment = client.deploy("diabetes@champion", "sdk-scorer", wait=True, timeout=240)
        assert (deployment.status.phase, deployment.status.served_version) == ("Ready", 1)
        answer = client.predict("sdk-scorer", pd.DataFrame(ROWS, columns=COLUMNS))
        expected = local_predictions(operator, namespace, 1, tmp_path)
        assert answer["predictions"] == pytest.approx(expected, rel=1e-12)

        with pytest.raises(NotFound, match="ModelDeployment 'nope' not found in namespace"):
            client.deployments.get("nope")
        with pytest.raises(BadReference, match="register it first"):
            client.deploy(f"runs:/{run.status.run_id}/model", "wrong")
        client.deployments.delete("sdk-scorer")
