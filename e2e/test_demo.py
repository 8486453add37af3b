"""The README's main job, `make demo`, runs end to end: the local control plane, the Helm chart
(operator, tracking server and MinIO as containers of mlkube's images), then
train -> track -> register -> serve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from e2e.cluster.cluster import ROOT


def test_make_demo_runs_the_quickstart_on_the_chart(tmp_path: Path) -> None:
    state = tmp_path / "stack"
    try:
        demo = subprocess.run(
            ["bash", str(ROOT / "hack" / "demo.sh")],
            cwd=ROOT,
            env={
                "MLKUBE_STATE": str(state),
                # The user's shell after `make setup` (Go builds the pause image's program).
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "PYTHON": sys.executable,
                "HOME": str(Path.home()),
            },
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
        # `mlkube run` reports the Run's progress and outcome on stderr (stdout is for -o).
        out = demo.stdout + demo.stderr
        assert "mlkube-operator" in out
        assert "mlkube-server" in out
        assert "Succeeded: the run's code exited 0" in out
        assert "FINISHED: alpha=0.05" in out  # the mlflow client's view
        assert "{'predictions': [" in out  # the Service answered
    finally:
        subprocess.run(
            [sys.executable, "-m", "e2e.cluster", "down", "--state", str(state)],
            cwd=ROOT,
            capture_output=True,
            timeout=180,
            check=False,
        )
