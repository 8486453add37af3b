"""Machine-wide kernel settings that a node changes, recorded before and restored after.

The kubelet sets ``vm.overcommit_memory``, ``kernel.panic`` and ``kernel.panic_on_oops`` at start,
and the pods' way out needs the host's ``net.ipv4.ip_forward``. They are machine-wide, so the
first cluster to start records them in ``<registry>/sysctls.json`` and the last one to stop
restores them and removes the record.
"""

from __future__ import annotations

import json
from pathlib import Path

KEYS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops", "net.ipv4.ip_forward")


def _path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read(keys: tuple[str, ...] = KEYS) -> dict[str, str]:
    return {key: _path(key).read_text().strip() for key in keys}


def write(values: dict[str, str]) -> None:
    for key, value in values.items():
        _path(key).write_text(value + "\n")


def record(registry: Path) -> None:
    """Record the values as they are now, unless another running cluster already did."""
    registry.mkdir(parents=True, exist_ok=True)
    path = registry / "sysctls.json"
    if not path.exists():
        path.write_text(json.dumps(read()))


def restore(registry: Path) -> None:
    """Put back the recorded values (call when no other cluster runs) and drop the record."""
    path = registry / "sysctls.json"
    if path.exists():
        write(json.loads(path.read_text()))
        path.unlink()
