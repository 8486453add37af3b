"""Deliver the "mlkube" request-auth plugin (mlkube.projects.mlflow_auth) to a Run's code.

The init container writes, into the pod's shared volume::

    python/mlkube_auth.py
    python/mlkube_auth-<version>.dist-info/METADATA
    python/mlkube_auth-<version>.dist-info/entry_points.txt

so that, with ``python/`` on sys.path, ``importlib.metadata`` finds the entry point that MLflow
looks up for ``MLFLOW_TRACKING_AUTH=mlkube``. The runner (mlkube.projects.runner) adds the
directory to the entry point's PYTHONPATH.
"""

from __future__ import annotations

from pathlib import Path

from mlkube import __version__
from mlkube.projects import mlflow_auth

DIRECTORY = "python"
MODULE = "mlkube_auth"
ENTRY_POINT_GROUP = "mlflow.request_auth_provider"


def write_auth_plugin(directory: Path) -> Path:
    """Write the plugin into ``directory`` (made if missing); return ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{MODULE}.py").write_text(Path(mlflow_auth.__file__).read_text())
    info = directory / f"{MODULE}-{__version__}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {MODULE.replace('_', '-')}\nVersion: {__version__}\n"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        f"{mlflow_auth.NAME} = {MODULE}:{mlflow_auth.MlkubeAuthProvider.__name__}\n"
    )
    return directory
