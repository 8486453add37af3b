"""mlflow-saved models load in mlkube without mlflow; mlkube-saved models load in mlflow; both
predict the same."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from tests.integration.models.conftest import rows_and_predictions, subprocess_env

from mlkube.models import PythonModel, load_model
from mlkube.models import python_model as mk_python
from mlkube.models import sklearn as mk_sklearn

# Loads every model with mlkube while any import of mlflow raises; prints the predictions.
LOAD_WITHOUT_MLFLOW = textwrap.dedent(
    """
    import json, sys

    class RefuseMlflow:
        def find_spec(self, name, path=None, target=None):
            if name == "mlflow" or name.startswith("mlflow."):
                raise ImportError(f"mlflow is blocked in this test: {name}")
            return None

    sys.meta_path.insert(0, RefuseMlflow())
    from pathlib import Path
    import pandas as pd
    from mlkube.models import load_model

    out = Path(sys.argv[1])
    split = json.loads((out / "rows.json").read_text())
    rows = pd.DataFrame(split["data"], columns=split["columns"])
    result = {}
    for name in ("skops", "pickle", "cloudpickle", "forest"):
        result[name] = load_model(out / name).predict(rows).tolist()
    custom = load_model(out / "custom").predict(rows, {"shift": 1.5})
    result["custom"] = custom.to_dict(orient="records")
    result["mlflow imported"] = any(m.split(".")[0] == "mlflow" for m in sys.modules)
    result["example"] = load_model(out / "skops").input_example().shape[0]
    print(json.dumps(result))
    """
)


def test_mlflow_models_load_without_mlflow(mlflow_models: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_MLFLOW, str(mlflow_models)],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    _, expected = rows_and_predictions(mlflow_models)
    assert result.pop("mlflow imported") is False
    assert result.pop("example") == 3
    assert result == expected


@pytest.fixture(scope="module")
def diabetes() -> tuple[pd.DataFrame, ElasticNet]:
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    return features, ElasticNet(alpha=0.01, random_state=0).fit(features, target)


@pytest.fixture(autouse=True)
def _allow_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


@pytest.mark.parametrize("fmt", ["skops", "pickle", "cloudpickle"])
def test_mlkube_sklearn_models_load_in_mlflow(
    tmp_path: Path, diabetes: tuple[pd.DataFrame, ElasticNet], fmt: str
) -> None:
    features, estimator = diabetes
    mk_sklearn.save_model(
        estimator, tmp_path / "m", serialization_format=fmt, input_example=features.head(3)
    )
    rows = features.sample(30, random_state=2)
    by_mlflow = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(rows)
    by_mlkube = load_model(tmp_path / "m").predict(rows)
    np.testing.assert_array_equal(by_mlflow, by_mlkube)
    # The estimator on the raw frame may differ in the last bit: MLflow (and mlkube) rebuild the
    # frame in signature order, and BLAS rounds by memory layout.
    np.testing.assert_allclose(by_mlflow, estimator.predict(rows), rtol=1e-12)
    meta = mlflow.models.Model.load(str(tmp_path / "m"))
    assert meta.signature.inputs.input_names() == list(features.columns)
    pd.testing.assert_frame_equal(meta.load_input_example(str(tmp_path / "m")), features.head(3))


class Scale(PythonModel):
    def load_context(self, context: Any) -> None:
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return model_input * self.factor + (params or {}).get("offset", 0.0)


def test_mlkube_python_models_load_in_mlflow(tmp_path: Path) -> None:
    (tmp_path / "factor.txt").write_text("4")
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    from mlkube.models import infer_signature

    mk_python.save_model(
        tmp_path / "m",
        Scale(),
        artifacts={"factor": tmp_path / "factor.txt"},
        signature=infer_signature(frame, params={"offset": 0.0}),
    )
    by_mlflow = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(frame, params={"offset": 1})
    by_mlkube = load_model(tmp_path / "m").predict(frame, {"offset": 1})
    pd.testing.assert_frame_equal(by_mlflow, by_mlkube)
    assert by_mlflow["x"].tolist() == [5.0, 9.0]
