"""Where a new model version's files are: the client's ``source`` checked against this
workspace's runs, logged models and registered models, and resolved into what the registry
copies from (ModelVersion spec.source: ``runs:/<runId>/<path>``, ``models:/<modelId>`` or
``s3://<bucket>/<key>``).

Like MLflow's server, a source must name something in this workspace (no local paths, no
``..``); unlike it, mlkube copies every version into the registry, so the source must be
readable by the operator, and an ``s3://`` source must pass the rule the operator applies too
(``mlkube.sources``: a plain spelling, in this workspace's prefix or an allowlisted one).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from mlkube import layout
from mlkube.layout import Owner
from mlkube.sources import SourceRefused, SourceRule
from mlkube_operator.server.errors import ErrorCode, MlflowError, invalid
from mlkube_operator.server.http.registry_call import RegistryCall
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.entities import ModelVersion

MAX_SOURCE = 2048  # ModelVersion spec.source's limit
RUN_ID = re.compile(r"[0-9a-f]{32}")
LOGGED_MODEL = re.compile(r"m-[0-9a-f]{32}")
ARTIFACTS_ROUTE = "/api/2.0/mlflow-artifacts/artifacts/"


@dataclass(frozen=True)
class Resolved:
    source: str  # as the version will report it
    storage_source: str  # what the registry copies from
    run_id: str | None
    model_id: str | None


def _refused(source: str, why: str) -> MlflowError:
    return invalid(f"Invalid model version source: {source!r:.300}. {why}")


def _unquoted(text: str) -> str:
    while (once := urllib.parse.unquote(text)) != text:
        text = once
    return text


def resolve(call: RegistryCall, source: str, run_id: str | None, model_id: str | None) -> Resolved:
    """The version's sources and lineage, or INVALID_PARAMETER_VALUE saying what is wrong."""
    if len(source) > MAX_SOURCE:
        raise _refused(source, f"Sources are limited to {MAX_SOURCE} characters.")
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        raise invalid(f"run_id {run_id!r:.80} is not a run id of this server (32 hex digits)")
    if model_id is not None and not LOGGED_MODEL.fullmatch(model_id):
        raise invalid(f"model_id {model_id!r:.80} is not a logged model id (m-<32 hex digits>)")
    if source[:3].lower() == "s3:":
        return _from_s3(call, source, run_id, model_id)
    plain = _unquoted(source)
    if "\x00" in plain or any(part == ".." for part in plain.split("/")):
        raise _refused(source, "Relative path references ('..') are not allowed.")
    parts = urllib.parse.urlsplit(plain)
    scheme = parts.scheme.lower()
    if scheme == "runs":
        return _from_run_uri(call, source, parts, run_id, model_id)
    if scheme == "models":
        return _from_models_uri(call, source, parts, run_id, model_id)
    if scheme == "mlflow-artifacts" or (
        scheme in ("http", "https") and ARTIFACTS_ROUTE in parts.path
    ):
        path = parts.path if scheme == "mlflow-artifacts" else parts.path.split(ARTIFACTS_ROUTE)[1]
        return _from_artifact_path(call, source, path.lstrip("/"), run_id, model_id)
    raise _refused(
        source,
        "mlkube copies registered models from runs:/<runId>/<path>, models:/<modelId>, "
        "models:/<name>/<version>, mlflow-artifacts:/<experimentId>/<runId>/artifacts/<path> "
        "or s3://<bucket>/<key>; local paths and other schemes are not readable by the registry.",
    )


def _from_s3(call: RegistryCall, source: str, run_id: str | None, model_id: str | None) -> Resolved:
    """An ``s3://`` source, read and checked exactly as the operator will (mlkube.sources)."""
    rule = SourceRule(call.services.objects.bucket, call.services.source_allowlist)
    try:
        location = rule.check(call.workspace, source)
    except SourceRefused as err:
        raise _refused(source, f"{err}.") from None
    return Resolved(source, str(location), run_id, model_id)


def _run_exists(call: RegistryCall, source: str, run: str) -> str:
    """The run's experiment id; the run must be in this workspace."""
    try:
        return call.tracking.get_run(call.workspace, run).info.experiment_id
    except MlflowError as err:
        if err.code is ErrorCode.RESOURCE_DOES_NOT_EXIST:
            raise _refused(
                source, f"Run {run} does not exist in workspace {call.workspace}."
            ) from None
        raise


def _from_run_uri(
    call: RegistryCall,
    source: str,
    parts: urllib.parse.SplitResult,
    run_id: str | None,
    model_id: str | None,
) -> Resolved:
    if parts.netloc:
        raise _refused(source, "runs:/ URIs of other servers cannot be registered here.")
    run, _, path = parts.path.lstrip("/").partition("/")
    if not RUN_ID.fullmatch(run):
        raise _refused(source, "Expected runs:/<runId>/<path> with a run of this server.")
    if run_id is not None and run_id != run:
        raise _refused(source, "The run_id request parameter must name the run of the source.")
    _run_exists(call, source, run)
    relative = layout.safe_relative(path)
    return Resolved(source, f"runs:/{run}/{relative}", run, model_id)


def _logged_model_run(call: RegistryCall, source: str, model: str) -> str | None:
    """The logged model's source run; the model must be in this workspace."""
    try:
        return call.tracking.get_logged_model(call.workspace, model).source_run_id
    except MlflowError as err:
        if err.code is ErrorCode.RESOURCE_DOES_NOT_EXIST:
            raise _refused(
                source, f"Logged model {model} does not exist in workspace {call.workspace}."
            ) from None
        raise


def _from_models_uri(
    call: RegistryCall,
    source: str,
    parts: urllib.parse.SplitResult,
    run_id: str | None,
    model_id: str | None,
) -> Resolved:
    if parts.netloc:
        raise _refused(source, "Registered model sources must use this server's registry.")
    path = parts.path.lstrip("/").rstrip("/")
    if LOGGED_MODEL.fullmatch(path):
        if model_id is not None and model_id != path:
            raise _refused(source, "The model_id request parameter must name the source's model.")
        source_run = _logged_model_run(call, source, path)
        return Resolved(source, f"models:/{path}", run_id or source_run, path)
    referenced = _registered_version(call, source, path)
    storage = referenced.storage_location or referenced.storage_source
    if storage.startswith("s3:"):
        storage = _from_s3(call, storage, None, None).storage_source
    return Resolved(
        f"models:/{referenced.name}/{referenced.version}",
        storage,
        run_id or referenced.run_id,
        model_id or referenced.model_id,
    )


def _registered_version(call: RegistryCall, source: str, path: str) -> ModelVersion:
    """The version a ``models:/<name>/<version|stage|latest>`` or ``models:/<name>@<alias>``
    URI points at."""
    registry, workspace = call.registry, call.workspace
    if "@" in path and "/" not in path.rsplit("@", 1)[1]:
        name, alias = path.rsplit("@", 1)
        return registry.get_model_version_by_alias(workspace, name, rules.check_alias(alias))
    name, _, suffix = path.rpartition("/")
    if not name or not suffix:
        raise _refused(source, "Expected models:/<name>/<version> or models:/<name>@<alias>.")
    if suffix.isdigit():
        return registry.get_model_version(workspace, name, int(suffix))
    if suffix.lower() == rules.LATEST_ALIAS:
        return registry.get_model_version_by_alias(workspace, name, rules.LATEST_ALIAS)
    stage = rules.canonical_stage(suffix)
    found = registry.get_latest_versions(workspace, name, [stage])
    if not found:
        raise _refused(source, f"Model {name} has no version in stage {stage.value}.")
    return found[0]


def _from_artifact_path(
    call: RegistryCall, source: str, path: str, run_id: str | None, model_id: str | None
) -> Resolved:
    try:
        parsed = layout.parse_artifact_path(path)
    except layout.LayoutError:
        parsed = None
    if parsed is None or parsed.owner is Owner.REGISTRY:
        raise _refused(
            source,
            "Expected an artifact path of a run (<experimentId>/<runId>/artifacts/<path>) or of "
            "a logged model (<experimentId>/models/<modelId>/artifacts); to copy a registered "
            "version use models:/<name>/<version>.",
        )
    if parsed.owner is Owner.RUN:
        if run_id is not None and run_id != parsed.owner_id:
            raise _refused(source, "The run_id request parameter must name the run of the source.")
        if _run_exists(call, source, parsed.owner_id) != parsed.experiment_id:
            raise _refused(source, f"Run {parsed.owner_id} is in another experiment.")
        storage = f"runs:/{parsed.owner_id}/{parsed.rest}"
        return Resolved(source, storage, parsed.owner_id, model_id)
    if parsed.rest:
        raise _refused(source, "Register a logged model as a whole: models:/<modelId>.")
    if model_id is not None and model_id != parsed.owner_id:
        raise _refused(source, "The model_id request parameter must name the source's model.")
    source_run = _logged_model_run(call, source, parsed.owner_id)
    return Resolved(source, f"models:/{parsed.owner_id}", run_id or source_run, parsed.owner_id)
