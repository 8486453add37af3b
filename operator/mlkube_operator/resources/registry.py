"""Pure pieces of model registration: where a version's files come from and go, and whether they
form an MLflow model."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from mlkube import layout, sources
from mlkube.storage import S3Location

RUN_SOURCE = re.compile(r"^runs:/(?P<run_id>[0-9a-f]{32})(?:/(?P<path>.*))?$")
MODEL_SOURCE = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]{32})/?$")


class RegistrationError(ValueError):
    """The version cannot be registered; the message says what is missing and where."""


@dataclass(frozen=True)
class RunSource:
    run_id: str
    path: str


@dataclass(frozen=True)
class LoggedModelSource:
    model_id: str


Source = RunSource | LoggedModelSource | S3Location


def parse_source(source: str) -> Source:
    """The source's form; an ``s3://`` one read strictly (``mlkube.sources``: SourceRefused for
    a disguised spelling), whether it may be copied is the rule's to say."""
    if match := RUN_SOURCE.match(source):
        path = (match["path"] or "").strip("/")
        if any(part in {"..", "."} for part in path.split("/")):
            raise RegistrationError(f"spec.source {source!r}: the path must not contain . or ..")
        return RunSource(match["run_id"], path)
    if match := MODEL_SOURCE.match(source):
        return LoggedModelSource(match["model_id"])
    if source.startswith("s3://"):
        return sources.parse_s3_uri(source)
    raise RegistrationError(
        f"spec.source {source!r}: expected runs:/<runId>/<path>, models:/<modelId> or s3://..."
    )


def run_artifacts(bucket: str, namespace: str, experiment_id: str, source: RunSource) -> S3Location:
    key = layout.run_artifacts_prefix(namespace, experiment_id, source.run_id)
    return S3Location(bucket, f"{key}{source.path}" if source.path else key.rstrip("/"))


def logged_model_document(bucket: str, namespace: str, model_id: str) -> S3Location:
    return S3Location(bucket, layout.logged_model_key(namespace, model_id))


def logged_model_artifacts(bucket: str, namespace: str, document: str, model_id: str) -> S3Location:
    """Where a logged model's files are, from its JSON document (which names its experiment)."""
    try:
        data: Any = json.loads(document)
        experiment_id = str(data.get("experiment_id") or data.get("experimentId") or "")
    except (ValueError, AttributeError):
        experiment_id = ""
    if not experiment_id.isdigit():
        raise RegistrationError(f"logged model {model_id} has no experiment id in its record")
    key = layout.model_artifacts_prefix(namespace, experiment_id, model_id)
    return S3Location(bucket, key.rstrip("/"))


def registry_location(bucket: str, namespace: str, model: str, version: int) -> S3Location:
    """The immutable copy of a version: ``<namespace>/models/<name>/<version>``."""
    return S3Location(bucket, layout.registry_prefix(namespace, model, version).rstrip("/"))


@dataclass(frozen=True)
class ModelInfo:
    flavors: list[str]
    signature: dict[str, str]


def check_mlmodel(text: str, where: str) -> ModelInfo:
    """Flavors and signature of an MLmodel file, or a RegistrationError naming what is wrong."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RegistrationError(f"{where}: MLmodel is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise RegistrationError(f"{where}: MLmodel is not a YAML mapping")
    flavors = data.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise RegistrationError(f"{where}: MLmodel has no flavors; it is not a loadable model")
    signature: dict[str, str] = {}
    raw = data.get("signature")
    if isinstance(raw, dict):
        for part in ("inputs", "outputs", "params"):
            value = raw.get(part)
            if isinstance(value, str):
                signature[part] = value
            elif value is not None:
                signature[part] = json.dumps(value)
    return ModelInfo(flavors=sorted(str(f) for f in flavors), signature=signature)
