"""The model registry through its resources: register a version, move aliases, set stages.

Registering is creating a ModelVersion that names its RegisteredModel (made first when missing)
and a source; the operator copies the files into the registry, numbers the version and marks it
Ready (ARCHITECTURE.md, data flow 4). Aliases are the RegisteredModel's ``spec.aliases`` and a
stage is the ModelVersion's ``spec.stage``: both are merge patches of what the user owns.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mlkube import layout
from mlkube.api import API_VERSION, ModelVersion, RegisteredModel, Run, Stage
from mlkube.api.kinds import MODEL_VERSION
from mlkube.client.collection import parse_object
from mlkube.client.errors import (
    AlreadyExists,
    BadReference,
    Failed,
    Invalid,
    NotFound,
)

if TYPE_CHECKING:
    from mlkube.client.client import Client

# Where `mlflow.<flavor>.log_model(name="model")` puts a run's model.
DEFAULT_PATH = "model"
_SOURCE = re.compile(r"(runs:/[0-9a-f]{32}/.*|models:/m-[0-9a-f]{32}|s3://[^/]+/.+)")
# Fits a label value (the server labels versions with their model when it does).
_LABEL_VALUE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?")


def source_of(
    client: Client, run_or_uri: Run | str, path: str = DEFAULT_PATH
) -> tuple[str, str | None]:
    """(the version's source, the run id when known) for a Run, a Run's name, an MLflow run id or
    a model URI (``runs:/<id>/<path>``, ``models:/m-<id>``, ``s3://...``)."""
    if isinstance(run_or_uri, str) and _SOURCE.fullmatch(run_or_uri):
        run_id = run_or_uri.split("/")[1] if run_or_uri.startswith("runs:/") else None
        return run_or_uri, run_id
    if isinstance(run_or_uri, str) and re.fullmatch(r"[0-9a-f]{32}", run_or_uri):
        return f"runs:/{run_or_uri}/{path}", run_or_uri
    if isinstance(run_or_uri, str) and (":" in run_or_uri or "/" in run_or_uri):
        raise BadReference(
            f"{run_or_uri!r} is not a model source; give a Run's name, an MLflow run id, "
            "runs:/<runId>/<path>, models:/m-<modelId> or s3://<bucket>/<key>"
        )
    run = client.runs.get(run_or_uri) if isinstance(run_or_uri, str) else run_or_uri
    if not run.status.run_id:
        raise Invalid(
            f"Run {run.metadata.name!r} has no MLflow run id yet (phase "
            f"{run.status.phase or 'unset'}); wait for it to run, then register"
        )
    return f"runs:/{run.status.run_id}/{path}", run.status.run_id


def ensure_model(client: Client, name: str) -> RegisteredModel:
    try:
        return client.models.get(name)
    except NotFound:
        pass
    try:
        return client.models.create({"metadata": {"name": name}})
    except AlreadyExists:  # made meanwhile
        return client.models.get(name)


def register(
    client: Client,
    run_or_uri: Run | str,
    name: str,
    alias: str | None = None,
    *,
    path: str = DEFAULT_PATH,
    wait: bool = True,
    timeout: float = 300,
) -> ModelVersion:
    """Register the model as a new version of ``name``; with ``wait``, once it is Ready (then
    ``alias``, if given, points at it). Failed when its registration failed."""
    source, run_id = source_of(client, run_or_uri, path)
    ensure_model(client, name)
    spec: dict[str, str] = {"model": name, "source": source}
    if run_id:
        spec["runId"] = run_id
    metadata: dict[str, object] = {"generateName": f"{name[:50].rstrip('-.')}-"}
    if _LABEL_VALUE.fullmatch(name):
        metadata["labels"] = {layout.MODEL_LABEL: name}
    body = {"apiVersion": API_VERSION, "kind": "ModelVersion", "metadata": metadata, "spec": spec}
    made = parse_object(
        MODEL_VERSION, client.kube.create(MODEL_VERSION, client.namespace, body), ModelVersion
    )
    if not wait and alias is None:
        return made
    done = client.versions.wait(
        made.metadata.name,
        phases={"Ready", "FailedRegistration"},
        timeout=timeout,
    )
    if done.status.phase != "Ready":
        raise Failed(
            f"ModelVersion {made.metadata.name!r} of {name!r} failed to register: "
            f"{done.status.message or 'no message'}; fix the source ({source}) and register again"
        )
    if alias is not None and done.status.version is not None:
        set_alias(client, name, alias, done.status.version)
    return done


def versions_of(client: Client, model: str) -> list[ModelVersion]:
    """Every version object of the registered model, by version number (unnumbered last)."""
    found = [v for v in client.versions.list() if v.spec.model == model]
    if not found:
        client.models.get(model)  # NotFound when the model itself is missing
    return sorted(found, key=lambda v: (v.status.version is None, v.status.version or 0))


def version_of(client: Client, model: str, version: int) -> ModelVersion:
    for item in versions_of(client, model):
        if item.status.version == version:
            return item
    raise NotFound(
        f"registered model {model!r} has no version {version} in namespace "
        f"{client.namespace}; list them with `mlkube models versions {model}`",
        kind="ModelVersion",
        name=f"{model}/{version}",
        namespace=client.namespace,
    )


def set_alias(client: Client, model: str, alias: str, version: int | None) -> RegisteredModel:
    """Point ``alias`` of ``model`` at ``version`` (None removes the alias); deployments that
    follow it roll out the new version."""
    if version is not None:
        version_of(client, model, version)
    return client.models.patch(model, {"spec": {"aliases": {alias: version}}})


def set_stage(client: Client, model: str, version: int, stage: Stage | str) -> ModelVersion:
    """Move a version to a stage (None, Staging, Production, Archived)."""
    wanted = str(stage.value if isinstance(stage, Stage) else stage).capitalize()
    if wanted not in {s.value for s in Stage}:
        raise BadReference(
            f"{stage!r} is not a stage; use one of {', '.join(s.value for s in Stage)}"
        )
    target = version_of(client, model, version)
    return client.versions.patch(target.metadata.name, {"spec": {"stage": wanted}})
