"""The inputs of the images, each cached by a key of its own: the Debian rootfs, the wheel sets,
mlkube's wheel and the Go programs (MinIO, pause).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from e2e.cluster import binaries

from images.shell import Log, run
from images.spec import (
    HERE,
    IGNORED,
    MIRRORS,
    MLKUBE_SOURCES,
    MMDEBSTRAP_OPTIONS,
    PAUSE_GO_FLAGS,
    PIP_TARGET,
    REPO,
    SOURCE_DATE_EPOCH,
    SUITE,
    BuildError,
    cache_dir,
    digest_file,
    lock_lines,
    read_packages,
    requirements_key,
    rootfs_key,
    ui_members,
    wheels_dir,
)


def ensure_rootfs(env: Mapping[str, str], log: Log) -> str:
    """Import the mmdebstrap rootfs into podman; return its local ref."""
    packages = read_packages(HERE / "debian-python" / "packages.txt")
    key = rootfs_key(packages)
    ref = f"localhost/mlkube-build/debian-rootfs:{key}"
    if subprocess.run(["podman", "image", "exists", ref], env=dict(env), check=False).returncode:
        tarball = cache_dir() / "rootfs" / f"{SUITE}-{key}.tar"
        if not tarball.is_file():
            tarball.parent.mkdir(parents=True, exist_ok=True)
            for old in tarball.parent.glob(f"{SUITE}-*.tar*"):
                old.unlink()
            partial = tarball.with_name(tarball.name + ".partial")
            log(f"debian-python: mmdebstrap {SUITE} {' '.join(packages)} (about a minute, cached)")
            started = time.monotonic()
            run(
                "mmdebstrap (the debian-python rootfs)",
                [
                    "mmdebstrap",
                    *MMDEBSTRAP_OPTIONS,
                    f"--include={','.join(packages)}",
                    "--format=tar",
                    SUITE,
                    str(partial),
                    *MIRRORS,
                ],
                log,
                echo=lambda line: line.startswith("I: ") and "tempdir" not in line,
            )
            partial.replace(tarball)
            log(f"debian-python: rootfs in {time.monotonic() - started:.0f}s ({_size(tarball)})")
        run(
            "podman import (the debian-python rootfs)",
            ["podman", "import", str(tarball), ref],
            log,
            env=env,
        )
    return ref


def ensure_wheels(name: str, requirements: Sequence[str], log: Log) -> Path:
    """Download the wheel set ``name`` (cp311, manylinux x86_64) once per requirement set.

    The directory holds the wheels and ``requirements.lock`` (every wheel pinned by hash).
    """
    key = requirements_key(requirements)
    target = wheels_dir() / f"{name}-{key}"
    if (target / "requirements.lock").is_file():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log(f"wheels {name}: pip download {len(requirements)} requirements for cp311 manylinux")
    started = time.monotonic()
    run(
        f"pip download (wheel set {name})",
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            *PIP_TARGET,
            "--dest",
            str(partial),
            *requirements,
        ],
        log,
        echo=lambda line: line.startswith("Collecting "),
    )
    wheels = {p.name: digest_file(p) for p in partial.glob("*.whl")}
    (partial / "requirements.lock").write_text("\n".join(lock_lines(wheels)) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    log(f"wheels {name}: {len(wheels)} wheels in {time.monotonic() - started:.0f}s")
    return target


def ensure_mlflow_ui(wheel: Path, log: Log) -> Path:
    """MLflow's web UI bundle, extracted from ``wheel`` once per wheel digest (issue 14).

    Files are written 0644 whatever the umask: the image's content key includes the mode.
    """
    digest = digest_file(wheel)
    target = wheels_dir() / f"mlflow-ui-{digest[:16]}"
    if (target / "index.html").is_file():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log(f"mlflow-ui: extracting {wheel.name}'s UI bundle")
    with zipfile.ZipFile(wheel) as archive:
        for member, rel in ui_members(archive.namelist()).items():
            dest = partial / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
            dest.chmod(0o644)
    for old in wheels_dir().glob("mlflow-ui-*"):
        if old != partial:
            shutil.rmtree(old, ignore_errors=True)
    partial.rename(target)
    return target


def _source_files(paths: Sequence[str]) -> list[Path]:
    """The files under ``paths`` (relative to the repo), without caches and build leftovers."""
    files: list[Path] = []
    for name in paths:
        top = REPO / name
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            parts = path.relative_to(REPO).parts
            if path.is_file() and not any(fnmatch(part, p) for part in parts for p in IGNORED):
                files.append(path)
    return files


def ensure_mlkube_wheel(pyproject: Mapping[str, Any], log: Log) -> Path:
    """Build mlkube's wheel from the checkout, once per state of its sources.

    The build runs in a copy (setuptools would write build/ and *.egg-info into the checkout) and
    installs the build backend pyproject.toml asks for from a local wheel set, so it needs no
    network after the first time (the host's setuptools is older than the one required).
    """
    files = _source_files(MLKUBE_SOURCES)
    h = hashlib.sha256()
    for path in files:
        h.update(f"\n{path.relative_to(REPO).as_posix()}\0{digest_file(path)}".encode())
    key = h.hexdigest()[:16]
    target = wheels_dir() / f"mlkube-src-{key}"
    found = sorted(target.glob("mlkube-*.whl"))
    if found:
        return found[0]
    backend = ensure_wheels("build-backend", pyproject["build-system"]["requires"], log)
    work = cache_dir() / "build" / "mlkube-wheel"
    shutil.rmtree(work, ignore_errors=True)
    for path in files:
        dest = work / "src" / path.relative_to(REPO)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    log("mlkube: building its wheel from the checkout")
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    env.pop("PIP_FIND_LINKS", None)
    run(
        "pip wheel (mlkube)",
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            f"--find-links={backend}",
            "--wheel-dir",
            str(work / "dist"),
            str(work / "src"),
        ],
        log,
        env=env,
    )
    built = sorted((work / "dist").glob("mlkube-*.whl"))
    if len(built) != 1:
        raise BuildError(f"pip wheel (mlkube): expected one wheel in {work / 'dist'}, got {built}")
    for old in wheels_dir().glob("mlkube-src-*"):
        shutil.rmtree(old, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy2(built[0], target / built[0].name)
    shutil.rmtree(work, ignore_errors=True)
    return target / built[0].name


def ensure_pause(log: Log) -> Path:
    """Build images/pause/pause.go on the host, once per source and Go version."""
    source = HERE / "pause" / "pause.go"
    env = dict(os.environ, CGO_ENABLED="0", GOOS="linux", GOARCH="amd64", GOFLAGS="")
    env["GOTOOLCHAIN"] = "local"
    go_version = run("go version", ["go", "version"], log, env=env).strip()
    recipe = json.dumps([digest_file(source), go_version, PAUSE_GO_FLAGS])
    key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    target = binaries.bin_dir() / f"pause-{key}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    log(f"pause: go build ({go_version})")
    run(
        "go build (pause)",
        ["go", "build", *PAUSE_GO_FLAGS, "-o", str(partial), str(source)],
        log,
        env=env,
        cwd=source.parent,
    )
    partial.replace(target)
    for old in binaries.bin_dir().glob("pause-*"):
        if old != target:
            old.unlink()
    return target


def ensure_minio(log: Log) -> Path:
    """The MinIO server binary that e2e/cluster/binaries.py builds (and caches by version)."""
    if binaries.MINIO.missing():
        log(f"minio: building {binaries.MINIO.version} from its Go module (one-time, minutes)")
        try:
            binaries.ensure(["minio"])
        except (RuntimeError, subprocess.CalledProcessError) as err:
            raise BuildError(f"building the MinIO binary failed: {err}") from err
    return binaries.MINIO.path("minio")


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.0f} MB"
