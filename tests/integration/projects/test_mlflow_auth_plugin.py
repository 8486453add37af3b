"""The "mlkube" request-auth plugin as a Run's code meets it (issue 13): the stock mlflow client,
in a separate interpreter whose environment the runner made, sends the pod's token from the
token file on every request, artifact uploads included, and picks up a rotated token."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.integration.projects.conftest import Recorder

from mlkube.projects.auth_plugin import write_auth_plugin
from mlkube.projects.runner import with_auth_plugin

# Rotates the token as the kubelet does (a new file swapped in) between two calls.
CLIENT = textwrap.dedent(
    """\
    import os, sys, tempfile
    import mlflow
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    client = mlflow.MlflowClient()
    client.get_experiment("1")
    token = os.environ["MLKUBE_TOKEN_FILE"]
    with open(token + ".new", "w") as handle:
        handle.write("rotated-token\\n")
    os.replace(token + ".new", token)
    client.get_experiment("1")
    work = tempfile.mkdtemp()
    with open(os.path.join(work, "notes.txt"), "w") as handle:
        handle.write("hello")
    get_artifact_repository("mlflow-artifacts:/1/abc/artifacts").log_artifact(
        os.path.join(work, "notes.txt")
    )
    """
)


def run_client(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLIENT],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def base_env(recorder: Recorder, token: Path) -> dict[str, str]:
    token.write_text("first-token\n")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(token.parent),
        "MLFLOW_TRACKING_URI": recorder.url,
        "MLKUBE_TOKEN_FILE": str(token),
    }


def test_the_stock_client_sends_the_token_file_and_follows_its_rotation(
    recorder: Recorder, tmp_path: Path
) -> None:
    plugin = write_auth_plugin(tmp_path / "mlkube" / "python")
    env = with_auth_plugin(base_env(recorder, tmp_path / "token"), plugin)
    assert env["MLFLOW_TRACKING_AUTH"] == "mlkube"
    assert env["PYTHONPATH"] == str(plugin)
    result = run_client(env)
    assert result.returncode == 0, result.stderr
    sent = [(m, p.split("?")[0], h.get("authorization")) for m, p, h in recorder.requests]
    assert sent == [
        ("GET", "/api/2.0/mlflow/experiments/get", "Bearer first-token"),
        ("GET", "/api/2.0/mlflow/experiments/get", "Bearer rotated-token"),
        (
            "PUT",
            "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/notes.txt",
            "Bearer rotated-token",
        ),
    ]
    assert "Could not find any registered plugin" not in result.stderr


def test_a_users_own_token_is_left_alone(recorder: Recorder, tmp_path: Path) -> None:
    plugin = write_auth_plugin(tmp_path / "python")
    env = with_auth_plugin(
        {**base_env(recorder, tmp_path / "token"), "MLFLOW_TRACKING_TOKEN": "mine"}, plugin
    )
    assert "MLFLOW_TRACKING_AUTH" not in env
    assert "PYTHONPATH" not in env
    result = run_client(env)
    assert result.returncode == 0, result.stderr
    assert {h.get("authorization") for _, _, h in recorder.requests} == {"Bearer mine"}
    own = with_auth_plugin({"MLFLOW_TRACKING_AUTH": "kubernetes", "PYTHONPATH": "/x"}, plugin)
    assert own == {"MLFLOW_TRACKING_AUTH": "kubernetes", "PYTHONPATH": "/x"}
    kept = with_auth_plugin({"PYTHONPATH": "/x"}, plugin)
    assert kept["PYTHONPATH"] == f"{plugin}{os.pathsep}/x"
