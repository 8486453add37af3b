"""The import contract of ARCHITECTURE.md, checked on every test run.

- `mlkube` (sdk/) never imports `mlkube_operator` (operator/), by any means: no import statement,
  no import by name (`importlib`, `__import__`), not even the name in a string; and importing
  every SDK module leaves `mlkube_operator` out of `sys.modules`.
- Only the client adapters import the Kubernetes client library: `mlkube.client` in the SDK and
  `mlkube_operator.kube.client` in the operator.
- Only `mlkube.objects.s3` imports the S3 client library (`minio`): operator, server and SDK all
  reach object storage through `mlkube.objects.ObjectStore`.
- Nothing touches Kopf's private names (`kopf._...`).
- The operator's controllers and resource builders do not import the tracking server
  (`mlkube_operator.server`): what both need (the metric history format) lives in the SDK.
- Resource builders do not import controllers: controllers use builders, and the other way
  round is an import cycle (importing a builder alone failed once).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "mlkube": ROOT / "sdk" / "mlkube",
    "mlkube_operator": ROOT / "operator" / "mlkube_operator",
}
KUBERNETES_LIBRARIES = {"kubernetes", "kubernetes_asyncio"}
ADAPTERS = ("mlkube.client", "mlkube_operator.kube.client")
S3_LIBRARIES = {"minio"}
S3_ADAPTER = "mlkube.objects.s3"
# Operator layers that must not reach into the tracking server's package.
BELOW_SERVER = ("mlkube_operator.controllers", "mlkube_operator.resources")
SERVER = "mlkube_operator.server"
BUILDERS, CONTROLLERS = "mlkube_operator.resources", "mlkube_operator.controllers"
# Calls that import a module named by a value: (qualified name as written, argument index).
DYNAMIC_IMPORTS = {
    "importlib.import_module",
    "import_module",
    "__import__",
    "importlib.__import__",
    "importlib.util.find_spec",
    "find_spec",
    "runpy.run_module",
    "run_module",
}
# SDK modules allowed to import a module whose name is computed, and why.
COMPUTED_IMPORTS = {
    # Unpickling a model imports the mlflow.* module a pickle names (guarded to mlflow.*).
    "mlkube.models.python_model",
}
# The SDK's optional extras: an SDK module may fail to import only for want of one of these.
OPTIONAL = {
    "starlette",
    "uvicorn",
    "prometheus_client",
    "numpy",
    "pandas",
    "sklearn",
    "cloudpickle",
    "skops",
    "orjson",
    "mlflow",
    "matplotlib",
}


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


def called_name(func: ast.expr) -> str:
    """`a.b.c` for a call of a dotted name, "" for anything else."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        owner = called_name(func.value)
        return f"{owner}.{func.attr}" if owner else ""
    return ""


def imported_by_name(tree: ast.AST) -> Iterator[tuple[int, str | None]]:
    """Imports by name: (line, the module named) or (line, None) when the name is computed."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and called_name(node.func) in DYNAMIC_IMPORTS:
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value
            else:
                yield node.lineno, None


def sdk_violations(module: str, path: Path, tree: ast.AST) -> Iterator[str]:
    """What only the SDK must not do: name the operator's package anywhere, or import by a
    computed name (which a scan cannot check) outside COMPUTED_IMPORTS."""
    for line, text in enumerate(path.read_text().splitlines(), start=1):
        if "mlkube_operator" in text:
            yield f"{path}:{line}: mlkube must not name mlkube_operator, even in a string"
    for line, target in imported_by_name(tree):
        if target is None and module not in COMPUTED_IMPORTS:
            yield (
                f"{path}:{line}: mlkube imports a module by a computed name; import it "
                "statically (the layer test cannot see through a computed name)"
            )


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(packages: dict[str, Path]) -> list[str]:
    """Every import that breaks the contract, as `path:line: what`."""
    found = []
    for package, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            module = module_name(package, root, path)
            tree = ast.parse(path.read_text(), filename=str(path))
            if package == "mlkube":
                found.extend(sdk_violations(module, path, tree))
            named = ((line, t) for line, t in imported_by_name(tree) if t is not None)
            for line, target in [*imported(tree), *named]:
                where = f"{path}:{line}"
                top = target.split(".")[0]
                if package == "mlkube" and top == "mlkube_operator":
                    found.append(f"{where}: mlkube must not import mlkube_operator ({target})")
                if top in KUBERNETES_LIBRARIES and not any(in_package(module, a) for a in ADAPTERS):
                    found.append(
                        f"{where}: only {' and '.join(ADAPTERS)} may import {top}; "
                        f"go through the adapter"
                    )
                if top in S3_LIBRARIES and module != S3_ADAPTER:
                    found.append(f"{where}: only {S3_ADAPTER} may import {top}; use mlkube.objects")
                if in_package(target, SERVER) and any(in_package(module, b) for b in BELOW_SERVER):
                    found.append(f"{where}: {module} must not import the server ({target})")
                if in_package(target, CONTROLLERS) and in_package(module, BUILDERS):
                    found.append(f"{where}: {module} must not import a controller ({target})")
                if top == "kopf" and any(p.startswith("_") for p in target.split(".")[1:]):
                    found.append(f"{where}: {target} is private to Kopf; use its public API")
    return sorted(set(found))


def test_the_code_keeps_the_import_contract() -> None:
    assert violations(PACKAGES) == []


def test_the_contract_catches_each_kind_of_violation(tmp_path: Path) -> None:
    sdk = tmp_path / "mlkube"
    operator = tmp_path / "mlkube_operator"
    (sdk / "client").mkdir(parents=True)
    (sdk / "objects").mkdir()
    (operator / "kube").mkdir(parents=True)
    (sdk / "tracking.py").write_text(
        "import kubernetes\nfrom mlkube_operator.settings import Settings\n"
    )
    (sdk / "client" / "core.py").write_text("from kubernetes import client\n")  # allowed
    (sdk / "objects" / "s3.py").write_text("from minio import Minio\n")  # allowed
    (sdk / "storage.py").write_text("import minio\n")
    # How cli.py reached the server before `mlkube-server` (issue 12).
    (sdk / "cli.py").write_text(
        "def server():\n    import importlib\n\n"
        '    return importlib.import_module("mlkube_operator.server.main")\n'
    )
    (sdk / "sneaky.py").write_text('m = __import__("mlkube" + "_operator")\n')
    (operator / "kube" / "client.py").write_text("import kubernetes\n")  # allowed
    (operator / "controllers").mkdir()
    (operator / "controllers" / "sweep.py").write_text("import mlkube_operator.server.entities\n")
    (operator / "kube" / "workloads.py").write_text("from kubernetes import client\n")
    (operator / "resources").mkdir()
    (operator / "resources" / "job.py").write_text("from mlkube_operator.controllers import run\n")
    (operator / "handlers.py").write_text(
        "import kopf\ndef f():\n    from kubernetes.client import CoreV1Api\n    kopf._core\n"
    )
    found = violations({"mlkube": sdk, "mlkube_operator": operator})
    by_file = {(Path(f.split(":")[0]).name, f.split(": ", 1)[1]) for f in found}
    adapter_only = (
        "only mlkube.client and mlkube_operator.kube.client may import kubernetes; "
        "go through the adapter"
    )
    named = "mlkube must not name mlkube_operator, even in a string"
    assert by_file == {
        ("tracking.py", adapter_only),
        ("tracking.py", named),
        ("tracking.py", "mlkube must not import mlkube_operator (mlkube_operator.settings)"),
        (
            "tracking.py",
            "mlkube must not import mlkube_operator (mlkube_operator.settings.Settings)",
        ),
        ("storage.py", "only mlkube.objects.s3 may import minio; use mlkube.objects"),
        ("cli.py", named),
        ("cli.py", "mlkube must not import mlkube_operator (mlkube_operator.server.main)"),
        (
            "sneaky.py",
            "mlkube imports a module by a computed name; import it statically (the layer test "
            "cannot see through a computed name)",
        ),
        ("workloads.py", adapter_only),
        ("handlers.py", adapter_only),
        ("handlers.py", "kopf._core is private to Kopf; use its public API"),
        (
            "job.py",
            "mlkube_operator.resources.job must not import a controller "
            "(mlkube_operator.controllers)",
        ),
        (
            "job.py",
            "mlkube_operator.resources.job must not import a controller "
            "(mlkube_operator.controllers.run)",
        ),
        (
            "sweep.py",
            "mlkube_operator.controllers.sweep must not import the server "
            "(mlkube_operator.server.entities)",
        ),
    }


# Run in a fresh interpreter: import every SDK module with `mlkube_operator` made unimportable,
# recording every attempt (an attempt inside try/except ImportError would otherwise pass).
IMPORT_EVERY_SDK_MODULE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    attempts = []

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "mlkube_operator":
                attempts.append(name)
                raise ImportError(f"the SDK imported {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    import mlkube

    walked, missing, failed = [], [], []

    def onerror(name):
        failed.append(name)

    for info in pkgutil.walk_packages(mlkube.__path__, "mlkube.", onerror=onerror):
        walked.append(info.name)
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as err:
            missing.append([info.name, (err.name or "").split(".")[0]])
    print(json.dumps({
        "attempts": attempts,
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] == "mlkube_operator"),
        "missing": missing,
        "failed": failed,
        "walked": walked,
        "imported": sorted(m for m in sys.modules if m.split(".")[0] == "mlkube"),
    }))
    """
)


def test_importing_every_sdk_module_leaves_the_operator_out() -> None:
    import json
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT / "sdk")}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_SDK_MODULE],
        env=env,
        cwd=ROOT / "sdk",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["loaded"] == []
    assert report["failed"] == []
    # Only an optional extra may be missing, never mlkube's own code or a core dependency.
    assert [m for m in report["missing"] if m[1] not in OPTIONAL] == []
    skipped = {m[0] for m in report["missing"]}
    assert set(report["walked"]) - skipped <= set(report["imported"])
    assert len(report["walked"]) > 40
