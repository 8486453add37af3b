"""Custom Python models: the ``python_function`` flavor with a pickled ``PythonModel``.

Write a model by subclassing ``PythonModel`` (``load_context`` once, ``predict`` per call), then
``save_model(path, python_model=..., artifacts={name: local path})``. The MLmodel names this
module as ``loader_module``, so ``mlflow.pyfunc.load_model`` loads it too (with mlkube installed).

Models logged by MLflow (``loader_module: mlflow.pyfunc.model``) load here without importing
``mlflow``: their pickle names MLflow's ``PythonModel`` base class, and the unpickler below
substitutes mlkube's. A model whose pickle needs more of MLflow (type-hinted ``predict``
validation, for one) loads only where ``mlflow`` is installed, and says so.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from mlkube.models.environment import pinned
from mlkube.models.errors import ModelError
from mlkube.models.mlmodel import PYFUNC, MLModel, PyFuncFlavor
from mlkube.models.save import finish_model, prepare_directory
from mlkube.models.signature import Signature

PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
LOADER_MODULE = "mlkube.models.python_model"
MLFLOW_LOADER_MODULE = "mlflow.pyfunc.model"


@dataclass
class PythonModelContext:
    """What ``load_context`` gets: local paths of the model's artifacts, and its config."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


class PythonModel:
    """Base class of custom models. ``predict`` may take ``context`` first, as in MLflow."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load what ``predict`` needs (artifacts, clients); called once, at load time."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError("a PythonModel must implement predict")


class _TypeHints:
    """Stand-in for MLflow's record of ``predict``'s type hints (pickled with the class)."""

    input: Any = None
    output: Any = None


# MLflow names a pickled PythonModel may reference, and what stands in for them here.
_STAND_INS: dict[tuple[str, str], type] = {
    ("mlflow.pyfunc.model", "PythonModel"): PythonModel,
    ("mlflow.pyfunc", "PythonModel"): PythonModel,
    ("mlflow.pyfunc.model", "PythonModelContext"): PythonModelContext,
    ("mlflow.pyfunc", "PythonModelContext"): PythonModelContext,
    ("mlflow.models.signature", "_TypeHints"): _TypeHints,
}


class _MlflowFreeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _STAND_INS:
            return _STAND_INS[module, name]
        if module == "mlflow" or module.startswith("mlflow."):
            try:
                importlib.import_module(module)
            except ImportError:
                raise ModelError(
                    f"{PYTHON_MODEL_FILE}: the pickled model needs {module}.{name} from MLflow, "
                    "which mlkube does not stand in for; install mlflow where the model is "
                    "loaded, or save the model with mlkube.models.python_model.save_model"
                ) from None
        return super().find_class(module, name)


def load_pickled_model(stream: BinaryIO) -> Any:
    """Unpickle a (cloud)pickled model without importing mlflow when it is not needed."""
    return _MlflowFreeUnpickler(stream).load()


def _takes_context(method: Any) -> bool:
    # MLflow's rule: a parameter named context, or two parameters besides params
    # (predict(self, ctx, model_input)).
    names = [n for n in inspect.signature(method).parameters if n not in ("self", "params")]
    return "context" in names or len(names) == 2


class PythonModelPredictor:
    """The loaded model behind the pyfunc interface: ``predict(data, params)``."""

    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        predict = python_model.predict
        parameters = inspect.signature(predict).parameters
        self._with_context = _takes_context(predict)
        self._with_params = "params" in parameters

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        kwargs = {"params": params} if self._with_params else {}
        if self._with_context:
            return self.python_model.predict(self.context, data, **kwargs)
        return self.python_model.predict(data, **kwargs)


def load_predictor(
    directory: Path, flavor: PyFuncFlavor, model_config: Mapping[str, Any] | None = None
) -> PythonModelPredictor:
    """Unpickle the model, hand it its artifacts and call ``load_context``."""
    if flavor.python_model is None:
        raise ModelError(
            "flavors.python_function.python_model: missing; mlkube loads pickled PythonModels "
            "(models from code are not supported yet)"
        )
    compression = (flavor.model_extra or {}).get("compression")
    if compression:
        raise ModelError(
            f"flavors.python_function.compression: {compression!r} is not supported; save the "
            "model without MLFLOW_LOG_MODEL_COMPRESSION"
        )
    path = directory / flavor.python_model
    try:
        with path.open("rb") as stream:
            python_model = load_pickled_model(stream)
    except OSError as err:
        raise ModelError(
            f"flavors.python_function.python_model: cannot read {path}: {err}"
        ) from None
    artifacts = {
        name: str(directory / info["path"]) for name, info in (flavor.artifacts or {}).items()
    }
    config = dict(flavor.model_config_ or {})
    config.update(model_config or {})
    context = PythonModelContext(artifacts=artifacts, model_config=config)
    python_model.load_context(context)
    return PythonModelPredictor(python_model, context)


def _load_pyfunc(path: str, model_config: Mapping[str, Any] | None = None) -> Any:
    """The entry point MLflow's ``pyfunc.load_model`` calls for ``loader_module`` = this module."""
    directory = Path(path)
    model = MLModel.load(directory)
    return load_predictor(directory, model.flavor(PYFUNC, PyFuncFlavor), model_config)


def copy_artifacts(directory: Path, artifacts: Mapping[str, str | Path]) -> dict[str, Any]:
    """Copy local artifacts (files or directories) under ``artifacts/``; return the flavor's
    ``artifacts`` mapping (``{name: {path, uri}}``, as MLflow writes it)."""
    out: dict[str, Any] = {}
    root = directory / ARTIFACTS_DIR
    for name, source in artifacts.items():
        source_path = Path(source)
        if not source_path.exists():
            raise ModelError(f"artifacts[{name!r}]: {source_path} does not exist")
        target = root / source_path.name
        if target.exists():
            target = root / name / source_path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source_path.is_dir():
            shutil.copytree(source_path, target)
        else:
            shutil.copy2(source_path, target)
        out[name] = {"path": target.relative_to(directory).as_posix(), "uri": str(source)}
    return out


def save_model(
    path: str | Path,
    python_model: PythonModel,
    *,
    artifacts: Mapping[str, str | Path] | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    model_config: dict[str, Any] | None = None,
    extra_pip_requirements: Iterable[str] = (),
    metadata: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> MLModel:
    """Save a custom model (cloudpickled, with copies of its artifacts) at ``path``."""
    import cloudpickle

    directory = prepare_directory(path)
    with (directory / PYTHON_MODEL_FILE).open("wb") as out:
        cloudpickle.dump(python_model, out)
    pyfunc: dict[str, Any] = {
        "loader_module": LOADER_MODULE,
        "python_model": PYTHON_MODEL_FILE,
        "cloudpickle_version": cloudpickle.__version__,
    }
    if artifacts:
        pyfunc["artifacts"] = copy_artifacts(directory, artifacts)
    if model_config:
        pyfunc["model_config"] = model_config
    model = MLModel.new(run_id=run_id, metadata=metadata)
    from mlkube import __version__

    return finish_model(
        directory,
        model,
        pyfunc,
        signature=signature,
        input_example=input_example,
        requirements=[f"mlkube=={__version__}", pinned("cloudpickle")],
        extra_requirements=extra_pip_requirements,
    )
