"""Kubernetes names for registry objects: MLflow model names may be any string, resource names
may not.

A RegisteredModel made through the API is named after its MLflow name when that is already a
DNS label of at most 52 characters (so `kubectl get registeredmodel iris` works), otherwise a
slug plus a hash of the name; the MLflow name then lives in spec.displayName. 52 leaves room for
the ModelVersion names (``<model>-<10 hex>``) and the ``mlkube.io/model`` label within 63.
"""

from __future__ import annotations

import secrets

from mlkube_operator.server.store.shared import naming

MAX_MODEL_RESOURCE = 52
MAX_LABEL_VALUE = 63


def model_resource_name(name: str) -> str:
    """The resource name a model of MLflow name ``name`` gets first (stable, so concurrent
    creates of one name collide in the API server rather than both succeeding)."""
    return naming.resource_name(name, "model", MAX_MODEL_RESOURCE)


def other_model_resource_name(name: str) -> str:
    """A fresh name for when the first one is held by another object (a model since renamed,
    or one whose deletion waits for its versions)."""
    return f"{model_resource_name(name)[:41].rstrip('-')}-{secrets.token_hex(5)}"


def version_resource_name(model: str) -> str:
    """A new ModelVersion's name: its model's name and a random suffix (the number is claimed
    only after the object exists, since claims are keyed by its uid)."""
    return f"{model[:MAX_MODEL_RESOURCE].rstrip('-.')}-{secrets.token_hex(5)}"


def fits_label(value: str) -> bool:
    return len(value) <= MAX_LABEL_VALUE and naming.LABEL.fullmatch(value) is not None
