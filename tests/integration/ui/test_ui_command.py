"""`mlkube ui` as a user runs it: a process that prints its sign-in link, forwards with the token
it was given, and stops cleanly on Ctrl-C; or says in one line why it cannot start."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e.cluster.mlkube_ui import UiProcess, session_cookie, ui_environment
from tests.integration.ui.conftest import WAIT, Seen


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("file-token-1\n")
    return path


@pytest.fixture
def ui(fake_tracking: tuple[str, Seen], token_file: Path) -> Iterator[UiProcess]:
    url, _ = fake_tracking
    args = ["--url", url, "--no-browser", "--token-file", str(token_file)]
    with UiProcess(args, ui_environment()) as started:
        yield started


def run_ui(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlkube.cli", "ui", "--no-browser", *args],
        env=ui_environment(**env),
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        check=False,
    )


def test_it_forwards_with_the_token_file_read_on_every_request_and_stops_on_ctrl_c(
    ui: UiProcess, fake_tracking: tuple[str, Seen], token_file: Path
) -> None:
    _, seen = fake_tracking
    link = ui.link()
    cookie = session_cookie(link)
    parts = urllib.parse.urlsplit(link)
    browser = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=WAIT)
    authorizations = []
    for turn in (1, 2):
        token_file.write_text(f"file-token-{turn}\n")
        path = "/ajax-api/2.0/mlflow/experiments/search"
        browser.request("GET", path, headers={"Cookie": cookie})
        record = json.loads(browser.getresponse().read())
        authorizations += [v for n, v in record["headers"] if n.lower() == "authorization"]
    assert authorizations == ["Bearer file-token-1", "Bearer file-token-2"]
    code, rest = ui.stop()
    assert code == 0
    assert "mlkube ui: stopped" in rest
    # The first request was the start-up probe of /health, without a token.
    assert seen.requests[0]["path"] == "/health"
    assert not [v for n, v in seen.requests[0]["headers"] if n.lower() == "authorization"]


def test_a_client_certificate_user_is_told_how_to_sign_in(
    fake_tracking: tuple[str, Seen], tmp_path: Path
) -> None:
    url, seen = fake_tracking
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    user = {"client-certificate-data": pem, "client-key-data": pem}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "admin", "user": user}],
        "contexts": [{"name": "local", "context": {"cluster": "c", "user": "admin"}}],
        "current-context": "local",
    }
    (tmp_path / "config").write_text(yaml.safe_dump(config))
    done = run_ui("--url", url, KUBECONFIG=str(tmp_path / "config"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "user admin of context local" in lines[0]
    assert "client certificate" in lines[0]
    assert "--token-file" in lines[0]
    assert "kubectl create token" in lines[0]
    assert seen.requests == []


def test_a_tracking_server_that_cannot_be_reached_is_named(token_file: Path) -> None:
    done = run_ui("--token-file", str(token_file), MLFLOW_TRACKING_URI="http://127.0.0.1:1")
    assert done.returncode == 2
    assert "cannot reach the tracking server (http://127.0.0.1:1)" in done.stderr
