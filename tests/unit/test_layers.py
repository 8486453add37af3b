"""The import contract of ARCHITECTURE.md, checked on every test run.

- `mlkube` (sdk/) never imports `mlkube_operator` (operator/).
- Only the client adapters import the Kubernetes client library: `mlkube.client` in the SDK and
  `mlkube_operator.kube` in the operator.
- Nothing touches Kopf's private names (`kopf._...`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "mlkube": ROOT / "sdk" / "mlkube",
    "mlkube_operator": ROOT / "operator" / "mlkube_operator",
}
KUBERNETES_LIBRARIES = {"kubernetes", "kubernetes_asyncio"}
ADAPTERS = ("mlkube.client", "mlkube_operator.kube")


def module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "kopf"
            and node.attr.startswith("_")
        ):
            yield node.lineno, f"kopf.{node.attr}"


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(packages: dict[str, Path]) -> list[str]:
    """Every import that breaks the contract, as `path:line: what`."""
    found = []
    for package, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            module = module_name(package, root, path)
            tree = ast.parse(path.read_text(), filename=str(path))
            for line, target in imported(tree):
                where = f"{path}:{line}"
                top = target.split(".")[0]
                if package == "mlkube" and top == "mlkube_operator":
                    found.append(f"{where}: mlkube must not import mlkube_operator ({target})")
                if top in KUBERNETES_LIBRARIES and not any(in_package(module, a) for a in ADAPTERS):
                    found.append(
                        f"{where}: only {' and '.join(ADAPTERS)} may import {top}; "
                        f"go through the adapter"
                    )
                if top == "kopf" and any(p.startswith("_") for p in target.split(".")[1:]):
                    found.append(f"{where}: {target} is private to Kopf; use its public API")
    return sorted(set(found))


def test_the_code_keeps_the_import_contract() -> None:
    assert violations(PACKAGES) == []


def test_the_contract_catches_each_kind_of_violation(tmp_path: Path) -> None:
    sdk = tmp_path / "mlkube"
    operator = tmp_path / "mlkube_operator"
    (sdk / "client").mkdir(parents=True)
    operator.mkdir()
    (sdk / "tracking.py").write_text(
        "import kubernetes\nfrom mlkube_operator.settings import Settings\n"
    )
    (sdk / "client" / "core.py").write_text("from kubernetes import client\n")  # allowed
    (operator / "handlers.py").write_text(
        "import kopf\ndef f():\n    from kubernetes.client import CoreV1Api\n    kopf._core\n"
    )
    found = violations({"mlkube": sdk, "mlkube_operator": operator})
    by_file = {(Path(f.split(":")[0]).name, f.split(": ", 1)[1]) for f in found}
    adapter_only = (
        "only mlkube.client and mlkube_operator.kube may import kubernetes; go through the adapter"
    )
    assert by_file == {
        ("tracking.py", adapter_only),
        ("tracking.py", "mlkube must not import mlkube_operator (mlkube_operator.settings)"),
        (
            "tracking.py",
            "mlkube must not import mlkube_operator (mlkube_operator.settings.Settings)",
        ),
        ("handlers.py", adapter_only),
        ("handlers.py", "kopf._core is private to Kopf; use its public API"),
    }
