"""The CLI's tier boundary: commands run in-process against an in-memory stand-in for the one
class that talks to the API server (mlkube.client.kube.Kube), which answers a missing object as the
API server does (a 404 Status, through the real error translation), applies merge patches, names
generateName objects and selects by equality label selectors. A watch sees the ``events`` a test
queued (none by default). Nothing listens anywhere. The SDK's own tests (tests/unit/client) use
the same stand-in."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
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
        # What a watch yields, in order: (event, kind, object), each stored as it goes by (a
        # Run's event stores it silently during a watch of Sweeps).
        self.events: list[tuple[str, Kind, Obj]] = []
        self.user: str | None = None
        self.made = 0

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
        wanted = dict(pair.split("=", 1) for pair in (selector or "").split(",") if pair)
        items = [
            copy.deepcopy(o)
            for (p, ns, _), o in self.objects.items()
            if p == kind.plural
            and ns == namespace
            and all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]
        return items, "1"

    def create(self, kind: Kind, namespace: str, body: Obj) -> Obj:
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        if "name" not in meta:
            self.made += 1
            meta["name"] = f"{meta.pop('generateName')}x{self.made:04d}"
        meta.setdefault("uid", f"uid-{meta['name']}")
        self.add(kind, namespace, obj)
        return copy.deepcopy(self.get(kind, namespace, meta["name"]))

    def patch(self, kind: Kind, namespace: str, name: str, patch: Obj) -> Obj:
        merge(self.get(kind, namespace, name), patch)
        return copy.deepcopy(self.get(kind, namespace, name))

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        self.get(kind, namespace, name)
        del self.objects[kind.plural, namespace, name]

    def whoami(self) -> str | None:
        return self.user

    def watch(self, kind: Kind, namespace: str, *_: Any, **__: Any) -> Iterator[tuple[str, Obj]]:
        while self.events:
            event, of, obj = self.events.pop(0)
            self.add(of, namespace, obj)
            if of == kind:
                yield event, copy.deepcopy(self.get(kind, namespace, obj["metadata"]["name"]))


def merge(target: Obj, patch: Obj) -> None:
    """A JSON merge patch (RFC 7386), as the API server applies one."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


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
