"""Loading any supported model behind one interface: ``load_model(path).predict(data, params)``.

The MLmodel's ``python_function.loader_module`` says what the model is. mlkube understands
MLflow's and its own loaders for scikit-learn and custom Python models, and never imports
``mlflow`` to do so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from mlkube.models import python_model, sklearn
from mlkube.models.enforce import enforce_params, enforce_schema
from mlkube.models.errors import ModelError
from mlkube.models.example import load_example
from mlkube.models.mlmodel import PYFUNC, MLModel, PyFuncFlavor
from mlkube.models.signature import Signature

SKLEARN_LOADERS = frozenset({sklearn.LOADER_MODULE, "mlkube.models.sklearn"})
PYTHON_MODEL_LOADERS = frozenset({python_model.LOADER_MODULE, python_model.MLFLOW_LOADER_MODULE})


class Predictor(Protocol):
    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any: ...


class PyFuncModel:
    """A loaded model: its MLmodel, signature and implementation."""

    def __init__(self, directory: Path, metadata: MLModel, impl: Predictor) -> None:
        self.directory = directory
        self.metadata = metadata
        self.impl = impl
        self.signature: Signature | None = metadata.get_signature()
        pyfunc = metadata.pyfunc
        self.loader_module = pyfunc.loader_module if pyfunc else ""

    @property
    def is_sklearn(self) -> bool:
        return isinstance(self.impl, sklearn.SklearnPredictor)

    def prepare(self, data: Any, params: Any = None) -> tuple[Any, dict[str, Any] | None]:
        """Input and params checked against the signature, as ``predict`` passes them on."""
        signature = self.signature
        if signature is None:
            return data, params if isinstance(params, dict) or params is None else None
        if signature.inputs is not None and signature.inputs.specs:
            data = enforce_schema(data, signature.inputs)
        return data, enforce_params(params, signature.params)

    def predict(self, data: Any, params: Any = None) -> Any:
        """Predictions for ``data``, after signature enforcement (InputError when it fails)."""
        data, checked = self.prepare(data, params)
        return self.impl.predict(data, checked)

    def input_example(self) -> Any:
        return load_example(self.directory, self.metadata)


def load_model(path: str | Path, model_config: Mapping[str, Any] | None = None) -> PyFuncModel:
    """Load the model in directory ``path`` (saved by mlflow or mlkube)."""
    directory = Path(path)
    metadata = MLModel.load(directory)
    pyfunc = metadata.flavor(PYFUNC, PyFuncFlavor)
    loader = pyfunc.loader_module
    impl: Predictor
    if loader in SKLEARN_LOADERS:
        impl = sklearn.load_predictor(directory, metadata, pyfunc)
    elif loader in PYTHON_MODEL_LOADERS:
        impl = python_model.load_predictor(directory, pyfunc, model_config)
    else:
        known = ", ".join(sorted(SKLEARN_LOADERS | PYTHON_MODEL_LOADERS))
        raise ModelError(
            f"flavors.python_function.loader_module: mlkube cannot load {loader!r} models; it "
            f"loads {known}. Serve this model with `mlflow models serve` instead"
        )
    return PyFuncModel(directory, metadata, impl)
