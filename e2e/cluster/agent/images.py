"""The image table: which local program a container image stands for.

There is no container engine and no registry here, so an image reference names a program that is
already on this machine. Every container's filesystem is the host's (see ``shim``), so an image
only contributes what a Dockerfile's ``ENTRYPOINT``, ``CMD``, ``ENV`` and ``WORKDIR`` would:

=======================================  =========================  ==========================
image (after normalisation, first match)  ENTRYPOINT / CMD           PATH starts with
=======================================  =========================  ==========================
``mlkube/operator[:tag]``                 ``mlkube-operator``        the project's Python env
``mlkube/runtime[:tag]``                  ``mlkube``                 the project's Python env
``mlkube/server[:tag]``                   ``mlkube``                 the project's Python env
``mlkube/<other>[:tag]``                  none: give ``command``     the project's Python env
``python``, ``python:3*``                 CMD ``python3``            the project's Python env
``minio/minio[:tag]``                     minio's entrypoint script  (``/usr/bin/minio`` is the
                                                                     cached MinIO binary)
=======================================  =========================  ==========================

An image adds files the way a layer would: the MinIO binary appears at ``/usr/bin/minio`` in the
container (a read-only bind mount), nowhere on the host, and ``mlkube/runtime`` holds the
checkout's ``examples/`` at ``/opt/mlkube/examples``, as the real runtime image does.

"The project's Python env" is the interpreter that runs the agent (``sys.executable``): its
``bin`` directory holds ``python``, ``pip``, ``mlkube`` and ``mlkube-operator``, so
``command: [python, -c, ...]`` or ``[mlkube, project, run]`` resolve through ``PATH`` exactly as in
the real images. A ``python:3.12`` pod still runs this interpreter: the tag is not checked.

Normalisation drops a registry host (``docker.io/``, ``ghcr.io/org/`` keeps ``org/``), the
``library/`` namespace and a ``@sha256:`` digest. Anything else is not in the table: the container
waits with ``ErrImagePull`` and then ``ImagePullBackOff``, naming this module, as a kubelet does for
an image that does not exist. To add an image, add a row to ``ImageTable.rows``.
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The checkout's examples: what the mlkube/runtime image holds at /opt/mlkube/examples.
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The minio/minio image's docker-entrypoint.sh: run `minio` unless the arguments already do.
_MINIO_ENTRYPOINT = (
    "/bin/sh",
    "-c",
    'if [ "$1" != minio ] && [ -n "$1" ]; then set -- minio "$@"; fi; exec "$@"',
    "docker-entrypoint.sh",
)


class ImageNotFound(LookupError):
    """The reference names no image of the table."""


@dataclass(frozen=True)
class Image:
    """What an image contributes to a container."""

    reference: str
    image_id: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = "/"
    # Files the image adds: container path -> host file or directory (bound read-only).
    files: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class _Row:
    patterns: tuple[str, ...]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    path: Path | None = None  # put first on PATH
    files: tuple[tuple[str, Path | None], ...] = ()


def normalise(reference: str) -> str:
    """``docker.io/library/python:3.11@sha256:..`` -> ``python:3.11``."""
    name = reference.split("@", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


class ImageTable:
    """Resolves image references to the programs of this machine."""

    def __init__(self, python_bin: Path, minio: Path | None) -> None:
        """``python_bin``: the project env's bin directory; ``minio``: the MinIO binary, or None
        where it is not installed."""
        python_env = (("PYTHON_VERSION", sys.version.split()[0]), ("LANG", "C.UTF-8"))
        mlkube_env = (("LANG", "C.UTF-8"), ("PYTHONUNBUFFERED", "1"))
        python = ("python", "python:latest", "python:3", "python:3[.-]*")
        self.rows = (
            _Row(("mlkube/operator", "mlkube/operator:*"), ("mlkube-operator",), env=mlkube_env,
                 path=python_bin),
            # The runtime image ships the examples, so examples/*/run.yaml can name them by path.
            _Row(("mlkube/runtime", "mlkube/runtime:*"), ("mlkube",), env=mlkube_env,
                 path=python_bin, files=(("/opt/mlkube/examples", EXAMPLES),)),
            _Row(("mlkube/server", "mlkube/server:*"), ("mlkube",), env=mlkube_env,
                 path=python_bin),
            _Row(("mlkube/*",), env=mlkube_env, path=python_bin),
            _Row(python, cmd=("python3",), env=python_env, path=python_bin),
            _Row(("minio/minio", "minio/minio:*"), _MINIO_ENTRYPOINT, ("minio",),
                 files=(("/usr/bin/minio", minio),)),
        )  # fmt: skip

    def resolve(self, reference: str) -> Image:
        """The image ``reference`` names; raises ImageNotFound with a message for the user."""
        name = normalise(reference)
        for row in self.rows:
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in row.patterns):
                continue
            files: dict[str, Path] = {}
            for target, source in row.files:
                if source is None or not source.exists():
                    raise ImageNotFound(
                        f"image {reference!r} maps to a program that is not installed on this "
                        "node (run `make setup`)"
                    )
                files[target] = source
            path = f"{row.path}:{STANDARD_PATH}" if row.path else STANDARD_PATH
            origin = row.path or next(iter(files.values()), Path("/"))
            return Image(
                reference=reference,
                image_id=f"mlkube-local://{origin}#{name}",
                entrypoint=row.entrypoint,
                cmd=row.cmd,
                env={"PATH": path, **dict(row.env)},
                files=files,
            )
        raise ImageNotFound(
            f"image {reference!r} is not in the node agent's image table "
            f"(e2e/cluster/agent/images.py); known images: {', '.join(self.known())}"
        )

    def known(self) -> list[str]:
        return [row.patterns[0] for row in self.rows]


def argv(image: Image, command: list[str], args: list[str]) -> list[str]:
    """The process arguments, as Kubernetes combines a container's command/args with the image's
    ENTRYPOINT/CMD: ``command`` replaces ENTRYPOINT (and drops CMD), ``args`` replaces CMD."""
    if command:
        return [*command, *args]
    return [*image.entrypoint, *(args or image.cmd)]
