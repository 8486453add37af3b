"""What mlkube's images are, and the pure parts of building them: keys, refs, the index.

Nothing here runs a command; tests/unit/test_images.py covers it without podman.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from e2e.cluster import binaries

from mlkube import __version__

REPO = Path(__file__).resolve().parent.parent
HERE = REPO / "images"
VERSION = __version__
NAMESPACE = "mlkube"

DEFAULT_REGISTRY = "docker.io"

# The image label that ties podman's copy of an image to the archive of the same key.
KEY_LABEL = "io.mlkube.image.key"

SUITE = "bookworm"

MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)

MMDEBSTRAP_OPTIONS = (
    "--variant=minbase",
    # /bin -> usr/bin as debootstrap does; the usrmerge package would pull in perl (~50 MB).
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    '--aptopt=APT::Install-Recommends "false"',
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
)

# Debian bookworm's python3 is CPython 3.11 on glibc 2.36. pip 23 does not expand a manylinux tag
# to the older glibc versions it implies, so every compatible tag is listed.
PIP_TARGET = (
    "--only-binary=:all:",
    "--python-version=3.11",
    "--implementation=cp",
    "--abi=cp311",
    *(f"--platform=manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)),
    "--platform=manylinux2014_x86_64",
    "--platform=manylinux2010_x86_64",
    "--platform=manylinux1_x86_64",
)

# The wheel of mlkube is reproducible for the same sources (zip timestamps), so its digest, and with
# it the image key, only changes when the code does.
SOURCE_DATE_EPOCH = "315532800"

PAUSE_GO_FLAGS = ("-trimpath", "-ldflags=-s")

MLKUBE_SOURCES = ("pyproject.toml", "README.md", "sdk", "operator")

# MLflow's web UI (issue 14): the bundle inside the full mlflow wheel (mlflow-skinny has none), and
# where the mlkube image keeps it (its MLKUBE_UI_DIR; the server's http/ui.py names it too).
UI_IN_WHEEL = "mlflow/server/js/build/"
UI_DIR = "/opt/mlkube/mlflow-ui"

IGNORED = ("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache", ".pytest_cache", "mlruns")


class BuildError(RuntimeError):
    """A build step failed; the message names the step and ends with the command's output."""


@dataclass(frozen=True)
class Image:
    """One image: its build context is ``images/<name>/``."""

    name: str
    description: str
    base: str | None = None
    aliases: tuple[str, ...] = ()
    # The wheel set mounted at /wheels during the build (see ``wheel_sets``).
    wheels: str | None = None
    # Repo paths whose last commit is the image's revision label.
    sources: tuple[str, ...] = ()

    @property
    def context(self) -> Path:
        return HERE / self.name

    def ref(self, registry: str | None = None, version: str = VERSION) -> str:
        """``docker.io/mlkube/<name>:<version>``, or the same repository under ``registry``."""
        return f"{(registry or DEFAULT_REGISTRY).rstrip('/')}/{NAMESPACE}/{self.name}:{version}"

    def refs(self, version: str = VERSION) -> list[str]:
        """Every name the image (and its archive) carries: its own, then its aliases."""
        return [self.ref(version=version), *self.aliases]


# In build order: a base before the images built on it.
IMAGES = (
    Image(
        "debian-python",
        "Debian bookworm's python3 with venv, CA certificates and tini",
        sources=("images/debian-python",),
    ),
    Image(
        "mlkube",
        "mlkube's operator, tracking server and scoring server",
        base="debian-python",
        wheels="mlkube",
        sources=("images/mlkube", *MLKUBE_SOURCES),
    ),
    Image(
        "mlkube-runtime",
        "Python with numpy, pandas, scikit-learn and mlflow: the image of Runs that name none",
        base="debian-python",
        # A Run or Pod that names python:3.11 gets this image (images/README.md, alias table).
        aliases=("docker.io/library/python:3.11", "docker.io/library/python:3"),
        wheels="runtime",
        sources=("images/mlkube-runtime", "examples"),
    ),
    Image(
        "minio",
        "The MinIO object store server",
        base="debian-python",
        # Not binaries.py: its commits are mostly about other programs; the binary itself is keyed.
        sources=("images/minio",),
    ),
    Image(
        "pause",
        "The pod sandbox process: sleeps until SIGTERM and reaps zombies",
        # The kubelet's default sandbox image: containerd finds it without a registry.
        aliases=("registry.k8s.io/pause:3.10",),
        sources=("images/pause",),
    ),
)


BY_NAME = {image.name: image for image in IMAGES}


def digest_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digests(root: Path) -> Iterator[tuple[str, str]]:
    """``(relative path, digest)`` for every file and symlink under ``root``, sorted by path.

    The executable bit is part of the digest: it changes what an image does.
    """
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            yield rel, "link:" + os.readlink(path)
        elif path.is_file():
            mode = "x" if path.stat().st_mode & stat.S_IXUSR else "-"
            yield rel, f"{mode}:{digest_file(path)}"


def content_key(context: Path, base_key: str | None, metadata: Mapping[str, Any]) -> str:
    """The cache key of an image: its staged context, its base image's key and its metadata."""
    h = hashlib.sha256()
    h.update(json.dumps({"base": base_key, "metadata": metadata}, sort_keys=True).encode())
    for rel, digest in tree_digests(context):
        h.update(f"\n{rel}\0{digest}".encode())
    # 64 bits name an archive uniquely enough and keep file names readable.
    return h.hexdigest()[:16]


def rootfs_key(packages: Sequence[str]) -> str:
    """The cache key of the mmdebstrap tarball: everything that goes into the command."""
    recipe = {
        "suite": SUITE,
        "mirrors": MIRRORS,
        "options": MMDEBSTRAP_OPTIONS,
        "packages": sorted(packages),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def read_packages(path: Path) -> list[str]:
    """A package list: one name a line, ``#`` comments."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def requirements_key(requirements: Sequence[str]) -> str:
    """The cache key of a wheel set: the requirements and the target platform."""
    recipe = {"requirements": sorted(requirements), "target": PIP_TARGET}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _project_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if not match:
        raise ValueError(f"cannot read a project name from requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def wheel_sets(pyproject: Mapping[str, Any]) -> dict[str, list[str]]:
    """The requirement sets of the images, from pyproject.toml so they cannot drift from it.

    ``mlkube``: mlkube's own dependencies with the operator, server and serve extras (mlkube itself
    is installed from its own wheel). ``runtime``: the serve extra's numpy, pandas and scikit-learn
    and the mlflow pinned in the dev extra, the client the tests check behaviour against.
    """
    project = pyproject["project"]
    extras: Mapping[str, list[str]] = project["optional-dependencies"]
    own = _project_name(project["name"])
    mlkube: list[str] = []
    for requirement in [
        *project["dependencies"],
        *extras["operator"],
        *extras["server"],
        *extras["serve"],
    ]:
        if _project_name(requirement) != own and requirement not in mlkube:
            mlkube.append(requirement)
    runtime_names = {"numpy", "pandas", "scikit-learn"}
    runtime = [r for r in extras["serve"] if _project_name(r) in runtime_names]
    mlflow = [r for r in extras["dev"] if _project_name(r) == "mlflow"]
    if len(runtime) != len(runtime_names) or len(mlflow) != 1 or "==" not in mlflow[0]:
        raise ValueError(
            "pyproject.toml: the serve extra must name numpy, pandas and scikit-learn and the dev "
            f"extra must pin mlflow (mlflow==X.Y.Z); found {runtime + mlflow}"
        )
    return {"mlkube": mlkube, "runtime": [*mlflow, *runtime]}


def mlflow_wheel(wheels: Path) -> Path:
    """The full ``mlflow`` wheel of a wheel set (not mlflow_skinny's or mlflow_tracing's)."""
    found = sorted(wheels.glob("mlflow-*.whl"))
    if len(found) != 1:
        raise BuildError(
            f"expected one mlflow wheel in {wheels} (the runtime set's pin), got "
            f"{[p.name for p in found]}"
        )
    return found[0]


def ui_members(names: Iterable[str]) -> dict[str, str]:
    """The UI bundle's files among a wheel's member names: member -> path inside the bundle.

    A name that would leave the bundle (``..``, absolute) is an error, not skipped: the wheel is
    not what was pinned. No index.html means no bundle (an mlflow-skinny wheel).
    """
    out: dict[str, str] = {}
    for name in names:
        if not name.startswith(UI_IN_WHEEL) or name.endswith("/"):
            continue
        rel = PurePosixPath(name.removeprefix(UI_IN_WHEEL))
        if rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts) or "\\" in name:
            raise BuildError(f"the mlflow wheel holds {name!r}, which leaves {UI_IN_WHEEL}")
        out[name] = rel.as_posix()
    if "index.html" not in out.values():
        raise BuildError(
            f"the mlflow wheel has no {UI_IN_WHEEL}index.html: the UI needs the full mlflow "
            "wheel, not mlflow-skinny"
        )
    return out


def lock_lines(wheels: Mapping[str, str]) -> list[str]:
    """``name==version --hash=sha256:...`` for pip's --require-hashes, from wheel file -> sha256."""
    lines = []
    for filename, sha256 in sorted(wheels.items()):
        name, version = filename.split("-")[:2]
        lines.append(f"{_project_name(name)}=={version} --hash=sha256:{sha256}")
    return lines


def index_document(entries: Sequence[Mapping[str, Any]], version: str = VERSION) -> dict[str, Any]:
    """The shape of index.json, which the local-cluster harness reads (and nothing else)."""
    return {
        "version": version,
        "images": [
            {
                "name": e["name"],
                "refs": list(e["refs"]),
                "archive": str(e["archive"]),
                "key": e["key"],
            }
            for e in entries
        ],
    }


def selected(only: Sequence[str]) -> list[Image]:
    """The images ``only`` names (all when empty) and the bases they need, in build order."""
    unknown = sorted(set(only) - set(BY_NAME))
    if unknown:
        raise BuildError(f"unknown image(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    wanted = set(only or BY_NAME)
    for image in reversed(IMAGES):
        if image.name in wanted and image.base:
            wanted.add(image.base)
    return [image for image in IMAGES if image.name in wanted]


def cache_dir() -> Path:
    return binaries.cache_dir()


def images_dir() -> Path:
    return cache_dir() / "images"


def index_path() -> Path:
    """Where ``build_all`` writes the index of image archives."""
    return images_dir() / "index.json"


def wheels_dir() -> Path:
    return cache_dir() / "wheels"


def podman_dir() -> Path:
    return cache_dir() / "podman"
