"""`mlkube server` reaches the server's own parser without the SDK importing the operator."""

from __future__ import annotations

import pytest

from mlkube.cli import main
from mlkube_operator.server.settings import Backend, ServerSettings


def test_mlkube_server_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["server", "--help"])
    assert exited.value.code == 0
    assert "--namespace" in capsys.readouterr().out


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
