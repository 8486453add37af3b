"""The runner as one file: a zipapp that any python3 >= 3.9 runs with its standard library alone.

``write_runner`` packs mlkube's project-running modules (``RUNNER_MODULES``) and the pure-Python
packages they import (``BUNDLED``: PyYAML, which falls back to its pure-Python parser when its C
extension is absent, and packaging) from the files of *this* installation. The Job's init
container builds it on every run with the mlkube image the operator names, so the runner can
never drift from the installed mlkube, and no image build has to remember a second artefact; it
is a few hundred kilobytes and takes milliseconds. Only sources go in (no .pyc, no extension
modules): they are the same for every Python version. The bytes depend only on those files
(sorted entries, fixed times), so the same installation always writes the same zipapp.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import packaging
import yaml

import mlkube

# What `python3 runner.pyz` imports from mlkube; tests/unit/projects/test_runner_zipapp.py runs
# the zipapp in an isolated interpreter, so a missing module fails there, not in a user's pod.
RUNNER_MODULES = (
    "mlkube/__init__.py",
    "mlkube/auth.py",
    "mlkube/projects/__init__.py",
    "mlkube/projects/command.py",
    "mlkube/projects/facts.py",
    "mlkube/projects/mlproject.py",
    "mlkube/projects/ranks.py",
    "mlkube/projects/runner.py",
)
# The packages the runner imports, each with the distribution whose licence files travel with it.
BUNDLED: tuple[tuple[ModuleType, str], ...] = ((yaml, "PyYAML"), (packaging, "packaging"))
MAIN = """\
import sys

from mlkube.projects.runner import main

sys.exit(main())
"""
SHEBANG = b"#!/usr/bin/env python3\n"
# The earliest time a zip entry can hold: the same for every build.
EPOCH = (1980, 1, 1, 0, 0, 0)


def _sources(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield f"{prefix}/{path.relative_to(root).as_posix()}", path


def _licences(distribution: str) -> Iterator[tuple[str, Path]]:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return
    for file in sorted(dist.files or [], key=str):
        if ".dist-info" in str(file) and file.name.upper().startswith(("LICENSE", "COPYING")):
            yield f"licenses/{distribution}/{file.name}", Path(str(file.locate()))


def runner_files() -> list[tuple[str, Path]]:
    """Every (name in the zipapp, source file) pair, in a stable order."""
    root = Path(mlkube.__file__).parent.parent
    files = [(name, root / name) for name in RUNNER_MODULES]
    for package, distribution in BUNDLED:
        files += _sources(Path(package.__file__ or "").parent, package.__name__)
        files += _licences(distribution)
    return sorted(files)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def runner_bytes() -> bytes:
    """The zipapp: a shebang line, then a zip with ``__main__.py`` at its root."""
    out = io.BytesIO()
    out.write(SHEBANG)
    with zipfile.ZipFile(out, "w") as archive:
        archive.comment = f"mlkube {mlkube.__version__} project runner".encode()
        archive.writestr(_entry("__main__.py"), MAIN)
        for name, path in runner_files():
            archive.writestr(_entry(name), path.read_bytes())
    return out.getvalue()


def write_runner(target: Path) -> Path:
    """Write the zipapp to ``target`` (atomically, readable and runnable by any user)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(runner_bytes())
    partial.chmod(0o755)
    os.replace(partial, target)
    return target
