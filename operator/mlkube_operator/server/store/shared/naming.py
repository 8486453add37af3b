"""Kubernetes names for MLflow names: MLflow names may be any string, resource names may not.

A name that is already a DNS label (and short enough) is used as is, so `kubectl get` by the
MLflow name works; any other gets a slug plus a hash of the full name, so distinct names never
collide and one name always maps to one object (the API server then rejects a duplicate create).
"""

from __future__ import annotations

import hashlib
import re

from mlkube.api.common import LABEL_NAME_PATTERN

LABEL = re.compile(LABEL_NAME_PATTERN)
_SLUG = re.compile(r"[^a-z0-9]+")
SLUG_LENGTH = 40
HASH_LENGTH = 10


def hashed_name(name: str, fallback: str) -> str:
    """``<slug>-<10 hex of sha256(name)>`` (``fallback`` as the slug when nothing is left)."""
    slug = _SLUG.sub("-", name.lower()).strip("-")[:SLUG_LENGTH].strip("-") or fallback
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:HASH_LENGTH]}"


def resource_name(name: str, fallback: str, max_length: int | None = None) -> str:
    """``name`` itself when it is a DNS label (of at most ``max_length``), else ``hashed_name``."""
    if LABEL.fullmatch(name) and (max_length is None or len(name) <= max_length):
        return name
    return hashed_name(name, fallback)
