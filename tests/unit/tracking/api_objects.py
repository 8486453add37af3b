"""An API server for the Kubernetes tracking store without its watch: the objects it holds by
(plural, name), answered to the store's reads and status patches, each read recorded."""

from __future__ import annotations

import copy
from typing import Any

from mlkube.api.kinds import Kind
from mlkube_operator.kube import NotFound

Obj = dict[str, Any]


class ApiObjects:
    def __init__(self, objects: dict[tuple[str, str], Obj]) -> None:
        self.objects = objects
        self.reads: list[str] = []

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        self.reads.append(f"get {kind.plural}/{name}")
        try:
            return copy.deepcopy(self.objects[kind.plural, name])
        except KeyError:
            raise NotFound(404, "NotFound") from None

    def list(self, kind: Kind, namespace: str | None = None, selector: str | None = None) -> Any:
        self.reads.append(f"list {kind.plural}")
        found = [
            copy.deepcopy(o) for (plural, _), o in self.objects.items() if plural == kind.plural
        ]
        return found, "9"

    def patch(self, kind: Kind, namespace: str, name: str, body: Obj, status: bool) -> Obj:
        obj = self.objects[kind.plural, name]
        for section, values in body["status"].items():
            if isinstance(values, dict):
                obj["status"].setdefault(section, {}).update(values)
            else:
                obj["status"][section] = values
        obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)
        return copy.deepcopy(obj)
