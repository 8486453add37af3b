"""Custom Python models: saved with artifacts, loaded with context and params, and MLflow's
pickled base classes replaced without importing mlflow."""

from __future__ import annotations

import io
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlkube.models import ModelError, PythonModel, infer_signature, load_model
from mlkube.models import python_model as mk_python


class Scale(PythonModel):
    def load_context(self, context: Any) -> None:
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return model_input * self.factor + (params or {}).get("offset", 0.0)


class NoContext(PythonModel):
    def predict(self, model_input: Any) -> Any:  # type: ignore[override]  # MLflow allows it
        return len(model_input)


def test_save_and_load_with_artifacts_and_params(tmp_path: Path) -> None:
    (tmp_path / "factor.txt").write_text("3")
    signature = infer_signature(pd.DataFrame({"a": [1.0]}), params={"offset": 0.0})
    mk_python.save_model(
        tmp_path / "m", Scale(), artifacts={"factor": tmp_path / "factor.txt"}, signature=signature
    )
    assert (tmp_path / "m" / "artifacts" / "factor.txt").read_text() == "3"
    model = load_model(tmp_path / "m")
    out = model.predict(pd.DataFrame({"a": [1.0, 2.0]}), {"offset": 1})
    assert out["a"].tolist() == [4.0, 7.0]
    assert model.predict(pd.DataFrame({"a": [1.0]}))["a"].tolist() == [3.0]


def test_predict_without_context(tmp_path: Path) -> None:
    mk_python.save_model(tmp_path / "m", NoContext())
    assert load_model(tmp_path / "m").predict([1, 2, 3]) == 3


def test_missing_artifacts_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"artifacts\['x'\]: .* does not exist"):
        mk_python.save_model(tmp_path / "m", Scale(), artifacts={"x": tmp_path / "nope"})


def _pickle_with_fake_mlflow(instance_of: str) -> bytes:
    """A pickle that names mlflow.pyfunc.model.<instance_of>, made without mlflow installed."""
    fake = types.ModuleType("mlflow.pyfunc.model")
    base = type(instance_of, (), {"__module__": "mlflow.pyfunc.model"})
    fake.__dict__[instance_of] = base
    saved = {name: sys.modules.get(name) for name in ("mlflow", "mlflow.pyfunc.model")}
    sys.modules["mlflow.pyfunc.model"] = fake
    try:
        return pickle.dumps(base())
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_mlflow_base_classes_are_stood_in_for() -> None:
    loaded = mk_python.load_pickled_model(io.BytesIO(_pickle_with_fake_mlflow("PythonModel")))
    assert type(loaded) is PythonModel


def test_other_mlflow_names_need_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _pickle_with_fake_mlflow("SomethingElse")

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(mk_python.importlib, "import_module", refuse)
    with pytest.raises(ModelError, match=r"needs mlflow\.pyfunc\.model\.SomethingElse from MLflow"):
        mk_python.load_pickled_model(io.BytesIO(data))
