"""The ``sklearn`` flavor: a scikit-learn estimator serialized with skops (the default, as in
MLflow 3.17), pickle or cloudpickle.

Models saved here name ``mlflow.sklearn`` as their pyfunc ``loader_module``, so MLflow loads them
without mlkube; mlkube loads models from either.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlkube.models.environment import pinned
from mlkube.models.errors import ModelError
from mlkube.models.mlmodel import PYFUNC, SKLEARN, MLModel, PyFuncFlavor, SklearnFlavor
from mlkube.models.save import finish_model, prepare_directory
from mlkube.models.signature import Signature

LOADER_MODULE = "mlflow.sklearn"
# MLflow's pyfunc wrapper exposes these estimator methods besides predict.
PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")


class SerializationFormat(StrEnum):
    SKOPS = "skops"
    PICKLE = "pickle"
    CLOUDPICKLE = "cloudpickle"

    @property
    def filename(self) -> str:
        return "model.skops" if self is SerializationFormat.SKOPS else "model.pkl"


def save_model(
    sk_model: Any,
    path: str | Path,
    *,
    serialization_format: str = SerializationFormat.SKOPS,
    skops_trusted_types: Sequence[str] | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    pyfunc_predict_fn: str = "predict",
    extra_pip_requirements: Iterable[str] = (),
    metadata: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> MLModel:
    """Save ``sk_model`` as an MLflow model directory at ``path``; return its MLmodel.

    With skops, every type skops does not trust by default must be listed in
    ``skops_trusted_types`` (after you have reviewed it), or saving fails naming the types.
    """
    try:
        fmt = SerializationFormat(serialization_format)
    except ValueError:
        known = ", ".join(SerializationFormat)
        raise ModelError(
            f"serialization_format: {serialization_format!r} is not one of {known}"
        ) from None
    if pyfunc_predict_fn not in PREDICT_FNS:
        raise ModelError(f"pyfunc_predict_fn: {pyfunc_predict_fn!r} is not one of {PREDICT_FNS}")
    directory = prepare_directory(path)
    model_file = directory / fmt.filename
    _serialize(sk_model, model_file, fmt, list(skops_trusted_types or []))
    model = MLModel.new(run_id=run_id, metadata=metadata)
    model.flavors[SKLEARN] = SklearnFlavor(
        pickled_model=fmt.filename,
        serialization_format=fmt,
        sklearn_version=_sklearn_version(),
        skops_trusted_types=list(skops_trusted_types) if skops_trusted_types else None,
    ).model_dump(exclude_none=True)
    requirements = [pinned("scikit-learn"), pinned("numpy"), pinned("scipy")]
    if fmt is SerializationFormat.SKOPS:
        requirements.append(pinned("skops"))
    elif fmt is SerializationFormat.CLOUDPICKLE:
        requirements.append(pinned("cloudpickle"))
    pyfunc = {
        "loader_module": LOADER_MODULE,
        "model_path": fmt.filename,
        "predict_fn": pyfunc_predict_fn,
    }
    return finish_model(
        directory,
        model,
        pyfunc,
        signature=signature,
        input_example=input_example,
        requirements=requirements,
        extra_requirements=extra_pip_requirements,
    )


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def _serialize(sk_model: Any, target: Path, fmt: SerializationFormat, trusted: list[str]) -> None:
    if fmt is SerializationFormat.SKOPS:
        import skops.io

        skops.io.dump(sk_model, target)
        untrusted = sorted(set(skops.io.get_untrusted_types(file=target)) - set(trusted))
        if untrusted:
            target.unlink()
            raise ModelError(
                f"skops_trusted_types: the model holds types skops does not trust: {untrusted}. "
                "Review them and pass them as skops_trusted_types, or use "
                "serialization_format='cloudpickle'"
            )
        return
    with target.open("wb") as out:
        if fmt is SerializationFormat.CLOUDPICKLE:
            import cloudpickle

            cloudpickle.dump(sk_model, out)
        else:
            pickle.dump(sk_model, out, protocol=pickle.DEFAULT_PROTOCOL)


def load_estimator(directory: Path, flavor: SklearnFlavor) -> Any:
    """The estimator of an ``sklearn`` flavor."""
    if flavor.code:
        sys.path.insert(0, str(directory / flavor.code))
    path = directory / flavor.pickled_model
    if not path.is_file():
        raise ModelError(f"flavors.sklearn.pickled_model: {path} does not exist")
    fmt = flavor.serialization_format
    if fmt == SerializationFormat.SKOPS:
        import skops.io
        from skops.io.exceptions import UntrustedTypesFoundException

        try:
            return skops.io.load(path, trusted=flavor.skops_trusted_types or None)
        except UntrustedTypesFoundException as err:
            raise ModelError(
                f"flavors.sklearn.skops_trusted_types: {err}; list the types there once you "
                "trust them"
            ) from None
    if fmt in (SerializationFormat.PICKLE, SerializationFormat.CLOUDPICKLE):
        # cloudpickle writes ordinary pickles that need cloudpickle importable to load.
        with path.open("rb") as stream:
            return pickle.load(stream)
    known = ", ".join(SerializationFormat)
    raise ModelError(f"flavors.sklearn.serialization_format: {fmt!r} is not one of {known}")


def load_model(path: str | Path) -> Any:
    """The scikit-learn estimator saved at ``path`` (by mlflow or mlkube)."""
    directory = Path(path)
    model = MLModel.load(directory)
    return load_estimator(directory, model.flavor(SKLEARN, SklearnFlavor))


class SklearnPredictor:
    """An estimator behind the pyfunc interface, calling the flavor's ``predict_fn``."""

    def __init__(self, estimator: Any, predict_fn: str = "predict") -> None:
        self.estimator = estimator
        if not callable(getattr(estimator, predict_fn, None)):
            raise ModelError(
                f"flavors.python_function.predict_fn: the estimator has no method {predict_fn!r}"
            )
        self.predict_fn = getattr(estimator, predict_fn)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.predict_fn(data)


def load_predictor(directory: Path, model: MLModel, pyfunc: PyFuncFlavor) -> SklearnPredictor:
    if SKLEARN in model.flavors:
        flavor = model.flavor(SKLEARN, SklearnFlavor)
    else:
        # A pyfunc-only model pointing at a pickle (MLflow assumes pickle then).
        if not pyfunc.model_path:
            raise ModelError("flavors.python_function.model_path: missing for an sklearn model")
        flavor = SklearnFlavor(pickled_model=pyfunc.model_path)
    return SklearnPredictor(load_estimator(directory, flavor), pyfunc.predict_fn or "predict")


def _load_pyfunc(path: str) -> SklearnPredictor:
    """For ``loader_module: mlkube.models.sklearn`` (MLflow's loader calls this)."""
    directory = Path(path)
    if directory.is_file():
        directory = directory.parent
    model = MLModel.load(directory)
    return load_predictor(directory, model, model.flavor(PYFUNC, PyFuncFlavor))
