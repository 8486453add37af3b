"""`mlkube server` runs the `mlkube-server` command, so the SDK never imports the operator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlkube.cli import main
from mlkube_operator.server.settings import Backend, ServerSettings


def server_on_path(bin_dir: Path) -> dict[str, str]:
    """An environment whose PATH has `mlkube-server` as `pip install mlkube[server]` makes it
    (run from this tree, whether or not the editable install has the script yet)."""
    script = bin_dir / "mlkube-server"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m mlkube_operator.server.main "$@"\n')
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_mlkube_server_runs_the_server_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlkube.cli", "server", "--help"],
        env=server_on_path(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--namespace" in done.stdout


def test_mlkube_server_without_the_server_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["server", "--port", "5001"]) == 2
    assert "pip install 'mlkube[server]'" in capsys.readouterr().err


def test_the_server_command_parses_its_own_flags() -> None:
    with pytest.raises(SystemExit) as exited:
        ServerSettings.parse(["--help"], {})
    assert exited.value.code == 0


def test_settings_from_flags_and_environment() -> None:
    env = {
        "KUBECONFIG": "/tmp/kubeconfig",
        "MLKUBE_S3_ENDPOINT": "http://127.0.0.1:9000",
        "MLKUBE_S3_ACCESS_KEY": "a",
        "MLKUBE_S3_SECRET_KEY": "s",
        "MLKUBE_S3_BUCKET": "b",
    }
    settings = ServerSettings.parse(["--port", "5001", "--namespace", "team"], env)
    assert settings.port == 5001
    assert settings.namespace == "team"
    assert settings.backend is Backend.KUBERNETES
    assert settings.kubeconfig == "/tmp/kubeconfig"
    assert (settings.s3_endpoint, settings.s3_bucket) == ("http://127.0.0.1:9000", "b")
    assert ServerSettings.parse([], {}).host == "127.0.0.1"


def test_request_bounds_from_flags_and_environment() -> None:
    env = {"MLKUBE_MAX_IN_FLIGHT": "8", "MLKUBE_HEADER_TIMEOUT": "2.5"}
    bounds = ServerSettings.parse(["--max-json-bytes", "1000"], env).bounds
    assert (bounds.max_json_bytes, bounds.max_in_flight, bounds.head_seconds) == (1000, 8, 2.5)
    with pytest.raises(SystemExit):
        ServerSettings.parse(["--max-in-flight", "0"], {})
