"""A kubeconfig user's bearer token (mlkube.client.credentials.KubeconfigTokens): static, from a
file, from an exec plugin (run again when its token expires, or after a refusal), and a user who
has none."""

from __future__ import annotations

import base64
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.auth import CredentialError
from mlkube.client.credentials import RELOAD_AFTER_REFUSAL, KubeconfigTokens

PAST = "2000-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00Z"


def kubeconfig(path: Path, users: dict[str, dict[str, Any]], current: str) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [{"name": f"ctx-{n}", "context": {"cluster": "c", "user": n}} for n in users],
        "current-context": f"ctx-{current}",
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


def exec_plugin(tmp_path: Path, expiry: str) -> dict[str, Any]:
    """A credential plugin that answers exec-1, exec-2, ... on its successive runs."""
    script = tmp_path / "plugin.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, pathlib
            runs = pathlib.Path({str(tmp_path / "runs")!r})
            n = int(runs.read_text()) + 1 if runs.exists() else 1
            runs.write_text(str(n))
            print(json.dumps({{
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {{"token": f"exec-{{n}}", "expirationTimestamp": {expiry!r}}},
            }}))
            """
        )
    )
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }


def test_a_static_token_of_the_chosen_context(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config", {"alice": {"token": "alice-token"}, "bob": {"token": "bob"}}, "bob"
    )
    tokens = KubeconfigTokens(path, "ctx-alice")
    assert tokens.token() == "alice-token"
    assert tokens.what == "user alice of context ctx-alice"
    assert KubeconfigTokens(path).token() == "bob"


def test_a_token_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    path = kubeconfig(tmp_path / "config", {"u": {"tokenFile": str(tmp_path / "token")}}, "u")
    assert KubeconfigTokens(path).token() == "from-a-file"


def test_an_exec_plugins_token_is_renewed_once_it_expired(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", {"u": exec_plugin(tmp_path, PAST)}, "u")
    tokens = KubeconfigTokens(path)
    first, second = tokens.token(), tokens.token()
    assert first != second
    assert {first, second} <= {f"exec-{n}" for n in range(1, 5)}


def test_a_refused_token_is_fetched_again_but_not_at_every_request(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", {"u": exec_plugin(tmp_path, FUTURE)}, "u")
    now = [1000.0]
    tokens = KubeconfigTokens(path, clock=lambda: now[0])
    token = tokens.token()
    assert tokens.token() == token  # valid until 2999: the plugin is not run again
    tokens.refused()
    assert tokens.token() == token  # refused right after loading: not again so soon
    now[0] += RELOAD_AFTER_REFUSAL
    tokens.refused()
    renewed = tokens.token()
    assert renewed != token
    assert tokens.token() == renewed


def test_a_client_certificate_user_has_no_token_and_is_told_so(tmp_path: Path) -> None:
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    user = {"client-certificate-data": pem, "client-key-data": pem}
    path = kubeconfig(tmp_path / "config", {"admin": user}, "admin")
    tokens = KubeconfigTokens(path)
    with pytest.raises(CredentialError) as refused:
        tokens.token()
    message = str(refused.value)
    assert "user admin of context ctx-admin" in message
    assert "client certificate" in message
    assert "\n" not in message


def test_no_kubeconfig_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="cannot load the kubeconfig"):
        KubeconfigTokens(str(tmp_path / "missing"))
    broken = kubeconfig(tmp_path / "config", {"u": {"token": "t"}}, "u")
    with pytest.raises(CredentialError, match="no-such-context"):
        KubeconfigTokens(broken, "no-such-context")
