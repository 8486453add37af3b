"""The Helm chart lints, renders for each scenario in charts/mlkube/ci, and every object it
renders is accepted by the real API server (server-side dry run, so RBAC rules and workload specs
are validated for real)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from e2e.cluster.cluster import ROOT, LocalCluster

CHART = ROOT / "charts" / "mlkube"
SCENARIOS = [None, *sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))]


def helm(cluster: LocalCluster, *args: str) -> str:
    result = subprocess.run(
        [str(cluster.bin_dir / "helm"), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_chart_lints(cluster: LocalCluster) -> None:
    out = helm(cluster, "lint", str(CHART), "--strict")
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s or "defaults")
def test_rendered_objects_pass_server_side_validation(
    cluster: LocalCluster, namespace: str, scenario: str | None
) -> None:
    values = ["-f", str(CHART / "ci" / scenario)] if scenario else []
    rendered = helm(cluster, "template", "mlkube", str(CHART), "-n", namespace, *values)
    out = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=rendered)
    assert "created (server dry run)" in out


def test_bad_values_are_refused_by_the_schema(cluster: LocalCluster, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  port: 70000\noperator:\n  enabeld: true\n")
    result = subprocess.run(
        [str(cluster.bin_dir / "helm"), "template", "x", str(CHART), "-f", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "port" in result.stderr
    assert "enabeld" in result.stderr
