"""Registry entities to MLflow's JSON (model_registry.proto's field names; versions as strings)."""

from __future__ import annotations

from mlkube_operator.server.http.serialize import Json, pairs
from mlkube_operator.server.store.registry.entities import ModelVersion, RegisteredModel


def model_version(v: ModelVersion) -> Json:
    out: Json = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "current_stage": v.current_stage.value,
        "description": v.description,
        "source": v.source,
        "status": v.status.value,
        "tags": pairs(v.tags),
        "aliases": list(v.aliases),
    }
    for name in ("run_id", "status_message", "run_link", "model_id"):
        value = getattr(v, name)
        if value:
            out[name] = value
    return out


def registered_model(m: RegisteredModel) -> Json:
    # MLflow lists a model's latest versions without their aliases (the model has them).
    latest = [{**model_version(v), "aliases": []} for v in m.latest_versions]
    return {
        "name": m.name,
        "creation_timestamp": m.creation_timestamp,
        "last_updated_timestamp": m.last_updated_timestamp,
        "description": m.description,
        "latest_versions": latest,
        "tags": pairs(m.tags),
        "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(m.aliases.items())],
    }
