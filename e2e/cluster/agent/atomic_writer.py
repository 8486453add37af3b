"""Write a volume's files so that a reader never sees a half-updated set (the kubelet's
AtomicWriter): the files live in a timestamped directory, ``..data`` is a symlink to the current
one, and each top-level name is a symlink through ``..data``; an update swaps ``..data`` with one
rename."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DATA = "..data"


@dataclass(frozen=True)
class File:
    content: bytes
    mode: int = 0o644


class PayloadError(ValueError):
    pass


def _check(path: str) -> PurePosixPath:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or path.startswith(".."):
        raise PayloadError(f"invalid path {path!r}: must be relative, without '..'")
    return pure


def _current(target: Path, payload: Mapping[str, File]) -> bool:
    """Does ``target`` already hold exactly ``payload``?"""
    data = target / DATA
    if not data.is_symlink():
        return False
    for path, file in payload.items():
        existing = data / path
        try:
            if (
                existing.read_bytes() != file.content
                or (existing.stat().st_mode & 0o777) != file.mode
            ):
                return False
        except OSError:
            return False
    present = {
        str(p.relative_to(data)) for p in data.rglob("*") if p.is_file() and not p.is_symlink()
    }
    return present == set(payload)


def write(target: Path, payload: Mapping[str, File]) -> bool:
    """Make ``target`` hold ``payload``; returns whether anything changed."""
    for path in payload:
        _check(path)
    target.mkdir(parents=True, exist_ok=True)
    if _current(target, payload):
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + uuid.uuid4().hex[:8]
    fresh = target / stamp
    fresh.mkdir(mode=0o755)
    for path, file in payload.items():
        destination = fresh / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(file.content)
        destination.chmod(file.mode)
    data = target / DATA
    old = os.readlink(data) if data.is_symlink() else None
    tmp = target / "..data_tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(stamp)
    os.replace(tmp, data)
    wanted = {PurePosixPath(p).parts[0] for p in payload}
    for name in wanted:
        link = target / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA}/{name}")
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.is_symlink() and entry.name not in wanted:
            entry.unlink()
    if old:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
