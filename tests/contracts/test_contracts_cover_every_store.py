"""Every store implementation runs its contract: a new store without a contract run fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
STORES = ROOT / "operator" / "mlkube_operator" / "server" / "store"
CONTRACTS = {"TrackingStore": "StoreContract", "RegistryStore": "RegistryContract"}


def _classes(path: Path) -> list[ast.ClassDef]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)]


def _names(nodes: list[ast.expr]) -> set[str]:
    return {n.id if isinstance(n, ast.Name) else getattr(n, "attr", "") for n in nodes}


def test_every_store_has_a_contract_run() -> None:
    stores = {
        c.name
        for path in STORES.rglob("*.py")
        for c in _classes(path)
        if c.name in ("InMemoryStore", "KubeStore", "InMemoryRegistryStore", "KubeRegistryStore")
    }
    assert stores == {"InMemoryStore", "KubeStore", "InMemoryRegistryStore", "KubeRegistryStore"}
    runs: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        text = path.read_text()
        for c in _classes(path):
            if _names(c.bases) & set(CONTRACTS.values()):
                runs |= {s for s in stores if f"{s}(" in text}
    assert runs == stores, f"stores without a contract run: {sorted(stores - runs)}"
