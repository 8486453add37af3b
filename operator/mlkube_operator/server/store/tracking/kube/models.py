"""MLflow 3 logged models as JSON documents in object storage (``<ns>/logged-models/<id>.json``).

They are not resources: a logged model is the client's bookkeeping for the files under its
artifact URI, registered models (issue 5) are the Kubernetes side. Correct with any number of
server replicas (issue 12): see ``LoggedModels``.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any

from mlkube import layout
from mlkube.metric_chunks import decode_value, encode_value
from mlkube.objects import ObjectNotFound, ObjectStore, PreconditionFailed
from mlkube_operator.server.entities import LoggedModel, LoggedModelStatus, Metric
from mlkube_operator.server.errors import not_found
from mlkube_operator.server.store.shared.errors import unavailable

ATTEMPTS = 10


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
    """The documents, read from object storage by every replica alike.

    A get reads its document (one GET); a search lists the workspace's documents with their
    entity tags and fetches only those whose tag differs from what this process last read; a
    change is a read-modify-write that lands only if the document is still the one read (a
    conditional PUT on its tag), read again and re-applied otherwise. So any number of server
    replicas see each other's writes at once and never lose one.
    """

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self._seen: dict[str, tuple[str, LoggedModel]] = {}  # key -> (etag, model)
        self._lock = threading.Lock()

    def _key(self, namespace: str, model_id: str) -> str:
        try:
            return layout.logged_model_key(namespace, model_id)
        except layout.LayoutError:  # not an id this server could have made
            raise not_found(f"no logged model with id {model_id!r}") from None

    def _read(self, namespace: str, model_id: str) -> tuple[LoggedModel, str]:
        key = self._key(namespace, model_id)
        try:
            data, etag = self.objects.get_tagged(key)
        except ObjectNotFound:
            raise not_found(
                f"no logged model with id {model_id!r} in workspace {namespace!r}"
            ) from None
        model = from_json(data)
        with self._lock:
            self._seen[key] = (etag, model)
        return model, etag

    def get(self, namespace: str, model_id: str) -> LoggedModel:
        return self._read(namespace, model_id)[0]

    def put(self, namespace: str, model: LoggedModel) -> LoggedModel:
        """Write a new model (its id is fresh: an existing document is never overwritten)."""
        self.objects.put_if(
            layout.logged_model_key(namespace, model.model_id), to_json(model), None
        )
        return model

    def update(
        self, namespace: str, model_id: str, change: Callable[[LoggedModel], LoggedModel]
    ) -> LoggedModel:
        """Read, change and write one model; re-read and re-apply when another writer (another
        replica) changed it in between."""
        key = self._key(namespace, model_id)
        for _ in range(ATTEMPTS):
            model, etag = self._read(namespace, model_id)
            changed = change(model)
            try:
                self.objects.put_if(key, to_json(changed), etag)
            except PreconditionFailed:
                continue
            return changed
        raise unavailable(RuntimeError(f"logged model {model_id} kept changing"))

    def delete(self, namespace: str, model_id: str) -> None:
        key = self._key(namespace, model_id)
        self.get(namespace, model_id)
        self.objects.delete([key])
        with self._lock:
            self._seen.pop(key, None)

    def of_experiments(self, namespace: str, experiment_ids: set[str]) -> list[LoggedModel]:
        prefix = layout.logged_models_prefix(namespace)
        listed = self.objects.list_all(prefix)
        out: list[LoggedModel] = []
        for info in listed:
            model = self._listed(info.key, info.etag)
            if model is not None and model.experiment_id in experiment_ids:
                out.append(model)
        present = {info.key for info in listed}
        with self._lock:
            for key in [k for k in self._seen if k.startswith(prefix) and k not in present]:
                del self._seen[key]  # deleted, maybe through another replica
        return out

    def _listed(self, key: str, etag: str | None) -> LoggedModel | None:
        """The model of a listed document: the copy read before if its tag is unchanged."""
        with self._lock:
            seen = self._seen.get(key)
        if seen is not None and etag is not None and seen[0] == etag:
            return seen[1]
        try:
            data, fresh = self.objects.get_tagged(key)
            model = from_json(data)
        except (ObjectNotFound, ValueError, KeyError, TypeError):
            return None  # deleted meanwhile, or not a document of ours
        with self._lock:
            self._seen[key] = (fresh, model)
        return model
