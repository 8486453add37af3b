"""MLflow 3 logged models as JSON documents in object storage (``<ns>/logged-models/<id>.json``).

They are not resources: a logged model is the client's bookkeeping for the files under its
artifact URI, registered models (issue 5) are the Kubernetes side. Each document is rewritten
whole under a per-model lock; this process keeps the documents it has seen, so reads need no
round trip and see this process's writes. (Several replicas would each keep their own view:
the server runs as one replica, see the report of issue 4.)
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from mlkube.objects import ObjectNotFound, ObjectStore
from mlkube_operator.server.artifacts import keys
from mlkube_operator.server.entities import LoggedModel, LoggedModelStatus, Metric
from mlkube_operator.server.errors import MlflowError, not_found
from mlkube_operator.server.store.kube.history import decode_value, encode_value


def to_json(model: LoggedModel) -> bytes:
    body = dataclasses.asdict(model)
    body["status"] = model.status.value
    body["metrics"] = [
        {**dataclasses.asdict(m), "value": encode_value(m.value)} for m in model.metrics
    ]
    return json.dumps(body, separators=(",", ":")).encode()


def from_json(data: bytes) -> LoggedModel:
    body: dict[str, Any] = json.loads(data)
    body["status"] = LoggedModelStatus(body["status"])
    body["metrics"] = tuple(
        Metric(**{**m, "value": decode_value(m["value"])}) for m in body.get("metrics", [])
    )
    return LoggedModel(**body)


class LoggedModels:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self._known: dict[str, dict[str, LoggedModel]] = defaultdict(dict)
        self._loaded: set[str] = set()
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def _load_namespace(self, namespace: str) -> None:
        if namespace in self._loaded:
            return
        for info in self.objects.list_all(keys.logged_models_prefix(namespace)):
            try:
                model = from_json(self.objects.get(info.key))
            except (ObjectNotFound, ValueError, KeyError, TypeError):
                continue
            with self._lock:
                self._known[namespace].setdefault(model.model_id, model)
        self._loaded.add(namespace)

    def get(self, namespace: str, model_id: str) -> LoggedModel:
        with self._lock:
            known = self._known[namespace].get(model_id)
        if known is not None:
            return known
        try:
            key = keys.logged_model_key(namespace, model_id)
        except MlflowError:  # not an id this server could have made
            raise not_found(f"no logged model with id {model_id!r}") from None
        try:
            model = from_json(self.objects.get(key))
        except ObjectNotFound:
            raise not_found(
                f"no logged model with id {model_id!r} in workspace {namespace!r}"
            ) from None
        with self._lock:
            self._known[namespace][model_id] = model
        return model

    def put(self, namespace: str, model: LoggedModel) -> LoggedModel:
        self.objects.put(keys.logged_model_key(namespace, model.model_id), to_json(model))
        with self._lock:
            self._known[namespace][model.model_id] = model
        return model

    def update(
        self, namespace: str, model_id: str, change: Callable[[LoggedModel], LoggedModel]
    ) -> LoggedModel:
        """Read, change and write one model, serialized with other changes of it."""
        with self._locks[model_id]:
            return self.put(namespace, change(self.get(namespace, model_id)))

    def delete(self, namespace: str, model_id: str) -> None:
        with self._locks[model_id]:
            self.get(namespace, model_id)
            self.objects.delete([keys.logged_model_key(namespace, model_id)])
            with self._lock:
                self._known[namespace].pop(model_id, None)

    def of_experiments(self, namespace: str, experiment_ids: set[str]) -> list[LoggedModel]:
        self._load_namespace(namespace)
        with self._lock:
            return [m for m in self._known[namespace].values() if m.experiment_id in experiment_ids]
