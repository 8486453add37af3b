"""What every ``save_model`` shares: an empty directory, then the example, the environment
files and the MLmodel, written the way MLflow lays a model out."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlkube.models.environment import write_environment
from mlkube.models.errors import ModelError
from mlkube.models.example import save_example
from mlkube.models.infer import infer_schema
from mlkube.models.mlmodel import MLMODEL, PYFUNC, MLModel
from mlkube.models.signature import Signature


def prepare_directory(path: str | Path) -> Path:
    """``path`` created; it must not exist yet or be empty (a model is never overwritten)."""
    directory = Path(path)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ModelError(f"{directory}: already exists; save a model to a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def finish_model(
    directory: Path,
    model: MLModel,
    pyfunc: dict[str, Any],
    *,
    signature: Signature | None,
    input_example: Any,
    requirements: Iterable[str],
    extra_requirements: Iterable[str] = (),
) -> MLModel:
    """Write the example, the environment files and the MLmodel; return the MLmodel."""
    if input_example is not None:
        model.saved_input_example_info = save_example(directory, input_example)
        if signature is None:
            data = input_example[0] if isinstance(input_example, tuple) else input_example
            try:
                signature = Signature(inputs=infer_schema(data, "input_example"))
            except ModelError:
                signature = None  # an example of a kind we cannot describe: no signature
    model.set_signature(signature)
    env = write_environment(directory, requirements, extra_requirements)
    model.flavors[PYFUNC] = {
        **pyfunc,
        "env": env,
        "python_version": platform.python_version(),
    }
    model.model_size_bytes = sum(
        path.stat().st_size for path in directory.rglob("*") if path.is_file()
    )
    model.save(directory)
    assert (directory / MLMODEL).is_file()
    return model
