"""Submitting a project: a local directory packed and uploaded, or a remote one named; a Run made.

A local project is packed and PUT through the tracking server's artifact proxy
(``MLFLOW_TRACKING_URI``) with the user's token (``MLFLOW_TRACKING_TOKEN``) into the Run's
namespace; the Run names it ``mlflow-artifacts:/projects/<sha256>.tar.gz``. No object-store key
is needed, on the laptop or in the pod (issue 13).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlkube import layout
from mlkube.api import API_VERSION, RunSpec, SpecError, parse
from mlkube.client.errors import Invalid, TrackingError
from mlkube.projects.archive import upload
from mlkube.projects.facts import git_commit
from mlkube.projects.mlproject import ProjectError, load_project
from mlkube.storage import StorageError

# Called while a project archive uploads: (bytes sent, total bytes).
UploadProgress = Callable[[int, int], None]


@dataclass
class Source:
    """Where a Run's project comes from: exactly one of a local directory, an archive URI, a git
    repository or a directory inside the image."""

    directory: Path | None = None
    uri: str | None = None
    git: str | None = None
    revision: str = "HEAD"
    image_path: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        given = [s for s in (self.directory, self.uri, self.git, self.image_path) if s]
        if len(given) != 1:
            raise Invalid(
                "give exactly one project source: a directory, an archive URI (--uri), a git "
                "URL (--git) or a directory in the image (--path)"
            )


def slug(text: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (cleaned or "run")[:40].rstrip("-")


def run_body(
    name: str | None,
    generate_name: str,
    spec: Mapping[str, Any],
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Run manifest, checked against the model before it is sent."""
    metadata: dict[str, Any] = {"name": name} if name else {"generateName": generate_name + "-"}
    if annotations:
        metadata["annotations"] = dict(annotations)
    try:
        checked = parse(RunSpec, dict(spec), "spec")
    except SpecError as err:
        raise Invalid("; ".join(err.problems)) from None
    return {
        "apiVersion": API_VERSION,
        "kind": "Run",
        "metadata": metadata,
        "spec": checked.to_wire(),
    }


def project_of(
    source: Source,
    env: Mapping[str, str],
    namespace: str,
    progress: UploadProgress | None = None,
) -> tuple[dict[str, Any], str]:
    """The Run's ``spec.project`` (uploading a local directory first) and a base for its name."""
    source.check()
    if source.directory is not None:
        try:
            base = load_project(source.directory).name
        except (ProjectError, OSError) as err:
            raise Invalid(f"{source.directory} is not an MLflow project: {err}") from None
        try:
            uri = upload(source.directory, env, namespace, progress)
        except StorageError as err:
            raise TrackingError(
                f"the project was not uploaded: {err}; check MLFLOW_TRACKING_URI and "
                "MLFLOW_TRACKING_TOKEN"
            ) from None
        commit = git_commit(source.directory)
        if commit:
            source.annotations[layout.GIT_COMMIT_ANNOTATION] = commit
        return {"uri": uri}, base
    if source.uri:
        return {"uri": source.uri}, "run"
    if source.git:
        name = source.git.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        return {"git": {"url": source.git, "revision": source.revision}}, name
    return {"path": source.image_path}, Path(str(source.image_path)).name
