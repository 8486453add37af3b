"""Errors are one line, name the resource and the reason, and say what to do."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from tests.unit.cli.conftest import Run as Cli

from mlkube.cli import main
from mlkube.client.errors import Forbidden, NotFound
from mlkube.client.kube import About, translate


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_missing_resource(mlkube: Cli) -> None:
    status, out, err = mlkube("runs", "get", "nope")
    assert (status, out) == (1, "")
    assert one_line(err) == (
        "error: Run 'nope' not found in namespace team; check the name and the namespace "
        "(`kubectl get runs -n team` lists them)"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["deploy", "runs:/" + "a" * 32 + "/model", "--name", "x"],
            "is a model's files, not a registered model; register it first",
        ),
        (["deploy", "diabetes", "--name", "x"], "names a model but not which version to serve"),
        (["deploy", "diabetes/latest", "--name", "x"], "is neither a version number nor a stage"),
        (
            ["deploy", "models:/m-" + "c" * 32, "--name", "x"],
            "is a logged model, not a registered one; register it first",
        ),
        (
            ["deploy", "diabetes@a", "--name", "x", "--canary", "diabetes@b"],
            "expected MODEL_REFERENCE:PERCENT",
        ),
    ],
)
def test_a_wrong_kind_of_model_reference(mlkube: Cli, args: list[str], says: str) -> None:
    status, _, err = mlkube(*args)
    line = one_line(err)
    assert status == 1
    assert says in line
    assert "MODEL@ALIAS" in line or "diabetes@challenger:20" in line  # the form to use


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "kubeconfig"
    server = f"https://127.0.0.1:{closed_port()}"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    assert main(["runs", "list", "--kubeconfig", str(config)]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"error: cannot reach the Kubernetes API server at {server}: ")
    assert "Connection refused; check that the cluster runs" in line
    assert main(["runs", "list", "--kubeconfig", str(config), "--context", "y"]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"error: context 'y' is not in the kubeconfig {config} (it has: x); pick one with --context"
    )


def test_no_kubeconfig(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["experiments", "list"]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: no Kubernetes configuration:")
    assert "set KUBECONFIG (or pass --kubeconfig)" in line


def refusal(status: int, body: dict[str, object]) -> ApiException:
    err = ApiException(status=status, reason="x")
    err.body = json.dumps({"kind": "Status", "code": status, **body})
    return err


def test_rbac_and_missing_crds_and_namespaces_say_what_to_do() -> None:
    about = About("list", "Run", None, "team", "runs", custom=True)
    forbidden = translate(
        refusal(
            403,
            {
                "reason": "Forbidden",
                "message": 'runs.mlkube.io is forbidden: User "bob" cannot list resource "runs"',
            },
        ),
        about,
        "https://k",
    )
    assert isinstance(forbidden, Forbidden)
    assert str(forbidden).endswith(
        "ask for a RoleBinding that allows it in that namespace (Kubernetes' edit role covers "
        "mlkube's resources)"
    )
    no_crd = translate(
        refusal(
            404,
            {
                "reason": "NotFound",
                "message": "the server could not find the requested resource",
                "details": {},
            },
        ),
        about,
        "https://k",
    )
    assert isinstance(no_crd, NotFound)
    assert "CustomResourceDefinitions are not installed; install mlkube's chart" in str(no_crd)
    create = About("create", "Run", "r", "gone", "runs", custom=True)
    no_namespace = translate(
        refusal(
            404,
            {
                "reason": "NotFound",
                "message": 'namespaces "gone" not found',
                "details": {"name": "gone", "kind": "namespaces"},
            },
        ),
        create,
        "https://k",
    )
    assert str(no_namespace).startswith("namespace 'gone' does not exist; create it")
    invalid = translate(
        refusal(
            422,
            {
                "reason": "Invalid",
                "message": 'Run.mlkube.io "r" is invalid: spec.backoffLimit: Invalid value: '
                "500:\nmust be at most 100",
            },
        ),
        create,
        "https://k",
    )
    assert "\n" not in str(invalid)
    assert str(invalid).endswith("must be at most 100; fix the field it names")
