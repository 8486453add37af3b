"""MLflow's model format without MLflow: the MLmodel file, signatures, input examples, the
``sklearn`` flavor and custom ``python_function`` models.

    from mlkube.models import load_model, sklearn
    sklearn.save_model(estimator, "model", input_example=X.head())
    load_model("model").predict(X)

Submodules import numpy, pandas and (when used) scikit-learn; import them where those are
installed (the ``serve`` extra).
"""

from __future__ import annotations

from mlkube.models.errors import InputError, ModelError
from mlkube.models.infer import infer_signature
from mlkube.models.mlmodel import MLModel
from mlkube.models.pyfunc import PyFuncModel, load_model
from mlkube.models.python_model import PythonModel, PythonModelContext
from mlkube.models.signature import ColSpec, ParamSchema, ParamSpec, Schema, Signature, TensorSpec

__all__ = [
    "ColSpec",
    "InputError",
    "MLModel",
    "ModelError",
    "ParamSchema",
    "ParamSpec",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "Schema",
    "Signature",
    "TensorSpec",
    "infer_signature",
    "load_model",
]
