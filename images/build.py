"""Build mlkube's OCI images with podman from Debian packages and local wheels, cached by content.

No registry is involved: the base image is an ``mmdebstrap`` rootfs imported with ``podman import``,
Python packages come from a wheelhouse filled on the host (``pip download``) and mounted read-only
into ``podman build --network=none``, and the Go programs (MinIO, pause) are built on the host.

Each image has a content key: a hash of its staged build context (Dockerfile, lock files, wheels,
binaries, examples), its base image's key and its metadata (refs, labels). When
``<cache>/images/<name>-<key>.oci.tar`` exists and podman still holds the image, nothing is rebuilt.
``<cache>/images/index.json`` lists the archives; the local cluster imports them with
``ctr -n k8s.io images import`` and reads nothing else. ``<cache>`` is ``$MLKUBE_CACHE`` or
``~/.cache/mlkube``. See images/README.md.

    python3 images/build.py [--registry REG] [--push] [--only NAME ...] [--quiet]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:
    # Run as a script (`python3 images/build.py`): put the repo's packages on sys.path.
    _repo = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_repo), str(_repo / "sdk")]

from images import inputs, podman
from images.shell import Log, atomic_write, exclusive
from images.spec import (
    BY_NAME,
    IGNORED,
    IMAGES,
    KEY_LABEL,
    NAMESPACE,
    REPO,
    VERSION,
    BuildError,
    Image,
    content_key,
    digest_file,
    images_dir,
    index_document,
    index_path,
    mlflow_wheel,
    selected,
    wheel_sets,
)

__all__ = ["BuildError", "build_all", "index_path", "main"]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def stage(image: Image, files: Mapping[str, Path]) -> Path:
    """A fresh build context: ``images/<name>/`` plus ``files`` (context path -> file or dir)."""
    context = images_dir() / "context" / image.name
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(image.context, context, ignore=shutil.ignore_patterns(*IGNORED))
    for rel, source in files.items():
        dest = context / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source,
                dest,
                ignore=shutil.ignore_patterns(*IGNORED),
                copy_function=_link_or_copy,
            )
        else:
            _link_or_copy(str(source), str(dest))
    return context


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def revision(paths: Sequence[str]) -> str | None:
    """The last commit that touched ``paths``, ``-dirty`` when they have changes since; None
    outside a git checkout. Not HEAD: a commit elsewhere in the tree does not rebuild an image.
    """
    commit = _git("log", "-1", "--format=%H", "--", *paths)
    if not commit:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=all", "--", *paths)
    return f"{commit}-dirty" if dirty else commit


def source_url(pyproject: Mapping[str, Any]) -> str | None:
    """The project's published source URL. Not the checkout's git remote: a clone's remote is
    often a local path, and a label that changes with where a clone came from would change every
    content key and rebuild every image in each fresh clone (as CI makes)."""
    urls: Mapping[str, str] = pyproject["project"].get("urls", {})
    for name in ("Source", "Repository", "Homepage"):
        if name in urls:
            return urls[name]
    return None


def labels(image: Image, pyproject: Mapping[str, Any]) -> dict[str, str]:
    """The OCI annotations of an image (``org.opencontainers.image.*``), where known."""
    out = {
        "org.opencontainers.image.title": f"{NAMESPACE}/{image.name}",
        "org.opencontainers.image.description": image.description,
        "org.opencontainers.image.version": VERSION,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.vendor": "mlkube",
    }
    source = source_url(pyproject)
    if source:
        out["org.opencontainers.image.source"] = source
    commit = revision(image.sources)
    if commit:
        out["org.opencontainers.image.revision"] = commit
    return out


def _read_index() -> dict[str, dict[str, Any]]:
    """The entries of the current index whose archives still exist (kept by ``--only``)."""
    try:
        document = json.loads(index_path().read_text())
    except (OSError, ValueError):
        return {}
    if document.get("version") != VERSION:
        return {}
    return {e["name"]: e for e in document.get("images", []) if Path(e["archive"]).is_file()}


@dataclass
class Plan:
    """What one image's build needs: its inputs (context path -> file or directory), build
    arguments and the wheel set to mount at /wheels."""

    inputs: dict[str, Path] = field(default_factory=dict)
    build_args: dict[str, str] = field(default_factory=dict)
    wheels: Path | None = None


def plan(
    image: Image,
    env: Mapping[str, str],
    pyproject: Mapping[str, Any],
    log: Log,
) -> Plan:
    """Prepare (or find cached) every input of ``image``."""
    out = Plan()
    if image.name == "debian-python":
        out.build_args["ROOTFS"] = inputs.ensure_rootfs(env, log)
    if image.base:
        out.build_args["BASE"] = BY_NAME[image.base].ref()
    if image.wheels:
        requirements = wheel_sets(pyproject)[image.wheels]
        out.wheels = inputs.ensure_wheels(image.wheels, requirements, log)
        out.inputs["requirements.lock"] = out.wheels / "requirements.lock"
    if image.name == "mlkube":
        wheel = inputs.ensure_mlkube_wheel(pyproject, log)
        out.inputs[f"dist/{wheel.name}"] = wheel
        # MLflow's web UI, from the pinned mlflow wheel (the runtime set's), not the repository.
        runtime = inputs.ensure_wheels("runtime", wheel_sets(pyproject)["runtime"], log)
        out.inputs["mlflow-ui"] = inputs.ensure_mlflow_ui(mlflow_wheel(runtime), log)
    elif image.name == "mlkube-runtime":
        out.inputs["examples"] = REPO / "examples"
    elif image.name == "minio":
        out.inputs["minio"] = inputs.ensure_minio(log)
    elif image.name == "pause":
        out.inputs["pause"] = inputs.ensure_pause(log)
    return out


def build_image(
    image: Image,
    base_key: str | None,
    env: Mapping[str, str],
    pyproject: Mapping[str, Any],
    log: Log,
) -> dict[str, Any]:
    """Build ``image`` unless podman and the archive cache already hold its key; its index entry."""
    todo = plan(image, env, pyproject, log)
    context = stage(image, todo.inputs)
    if image.name == "mlkube":
        # See images/mlkube/Dockerfile: this digest is what invalidates the last layer.
        dist = context / "dist"
        sums = [f"{digest_file(p)}  {p.name}" for p in sorted(dist.glob("*.whl"))]
        (dist / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    refs = image.refs()
    image_labels = labels(image, pyproject)
    metadata = {"refs": refs, "labels": image_labels, "build_args": todo.build_args}
    key = content_key(context, base_key, metadata)
    archive = images_dir() / f"{image.name}-{key}.oci.tar"
    if archive.is_file() and podman.has(env, refs, key):
        log(f"{image.name}: cached ({key})")
    else:
        started = time.monotonic()
        podman.build(
            image,
            context,
            refs=refs,
            build_args=todo.build_args,
            labels={**image_labels, KEY_LABEL: key},
            wheels=todo.wheels,
            env=env,
            log=log,
        )
        podman.verify(image, refs[0], env, log)
        podman.save(image, refs, archive, env, log)
        size = archive.stat().st_size / 1e6
        log(f"{image.name}: built in {time.monotonic() - started:.0f}s, {archive} ({size:.0f} MB)")
    return {"name": image.name, "refs": refs, "archive": str(archive), "key": key}


def build_all(
    registry: str | None = None,
    push: bool = False,
    only: Sequence[str] = (),
    *,
    quiet: bool = False,
) -> Path:
    """Build (or find cached) the images ``only`` names (all when empty) and their bases.

    Writes ``index_path()`` and returns it; entries of images not selected stay while their
    archives exist. With ``registry``, every selected image is also tagged
    ``<registry>/mlkube/<name>:<version>`` in podman, and pushed there with ``push``.
    """
    if push and not registry:
        raise BuildError("--push needs --registry")
    log = Log(quiet)
    images = selected(only)
    started = time.monotonic()
    images_dir().mkdir(parents=True, exist_ok=True)
    with exclusive(images_dir() / ".lock"):
        env = podman.environment()
        pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
        entries = _read_index()
        keys: dict[str, str] = {}
        for image in images:
            base_key = keys[image.base] if image.base else None
            entry = build_image(image, base_key, env, pyproject, log)
            entries[image.name] = entry
            keys[image.name] = entry["key"]
            if registry:
                podman.tag(image, registry, env, log)
                if push:
                    podman.push(image, registry, env, log)
        ordered = [entries[i.name] for i in IMAGES if i.name in entries]
        atomic_write(index_path(), json.dumps(index_document(ordered), indent=2) + "\n")
    log(f"done in {time.monotonic() - started:.0f}s: {index_path()}")
    return index_path()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--registry", help="also tag every image REGISTRY/mlkube/<name>:<version>")
    parser.add_argument("--push", action="store_true", help="push those tags (needs --registry)")
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help=f"build only these (and their bases): {', '.join(BY_NAME)}",
    )
    parser.add_argument("--quiet", action="store_true", help="print only errors and the index path")
    args = parser.parse_args(argv)
    if args.push and not args.registry:
        parser.error("--push needs --registry")
    try:
        index = build_all(args.registry, args.push, args.only, quiet=args.quiet)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.quiet:
        print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
