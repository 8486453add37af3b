"""The CLI's tier boundary: commands run in-process against an in-memory stand-in for the one
class that talks to the API server (mlkube.client.kube.Kube), which answers a missing object as the
API server does (a 404 Status, through the real error translation). Nothing listens anywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from mlkube.api.kinds import Kind
from mlkube.cli import main
from mlkube.cli.base import Options
from mlkube.client import Client
from mlkube.client.kube import About, translate

Obj = dict[str, Any]


class MemoryKube:
    """Objects of mlkube's kinds, by (plural, namespace, name)."""

    server = "https://memory.invalid"

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}

    def add(self, kind: Kind, namespace: str, obj: Obj) -> None:
        obj = {"apiVersion": "mlkube.io/v1alpha1", "kind": kind.kind, **obj}
        obj["metadata"] = {"namespace": namespace, **obj["metadata"]}
        self.objects[kind.plural, namespace, obj["metadata"]["name"]] = obj

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        found = self.objects.get((kind.plural, namespace, name))
        if found is None:
            status = {
                "kind": "Status",
                "status": "Failure",
                "message": f'{kind.plural}.mlkube.io "{name}" not found',
                "reason": "NotFound",
                "details": {"name": name, "group": "mlkube.io", "kind": kind.plural},
                "code": 404,
            }
            err = ApiException(status=404, reason="Not Found")
            err.body = json.dumps(status)
            about = About("get", kind.kind, name, namespace, kind.plural, custom=True)
            raise translate(err, about, self.server)
        return found

    def list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> Any:
        items = [
            o for (p, ns, _), o in self.objects.items() if p == kind.plural and ns == namespace
        ]
        return items, "1"


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def memory() -> MemoryKube:
    return MemoryKube()


@pytest.fixture
def mlkube(memory: MemoryKube, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `mlkube ARGS` against ``memory`` in namespace team; (status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        client = Client("team", kube=memory)  # type: ignore[arg-type]  # a stand-in Kube
        capsys.readouterr()
        status = main(list(args), obj=Options(made=[client]))
        out, err = capsys.readouterr()
        return status, out, err

    return run
