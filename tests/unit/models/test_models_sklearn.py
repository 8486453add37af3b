"""The sklearn flavor: each serialisation saves and loads; pyfunc wraps it with enforcement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from mlkube.models import InputError, ModelError, load_model
from mlkube.models import sklearn as mk_sklearn


@pytest.mark.parametrize("fmt", ["skops", "pickle", "cloudpickle"])
def test_each_serialization_round_trips(
    tmp_path: Path, fmt: str, regressor: LinearRegression, frame: pd.DataFrame
) -> None:
    mk_sklearn.save_model(regressor, tmp_path / "m", serialization_format=fmt)
    mlmodel = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    filename = "model.skops" if fmt == "skops" else "model.pkl"
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == fmt
    assert mlmodel["flavors"]["sklearn"]["pickled_model"] == filename
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    assert mlmodel["flavors"]["python_function"]["model_path"] == filename
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {
        "MLmodel",
        filename,
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
    }
    loaded = mk_sklearn.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(frame), regressor.predict(frame))


def test_skops_is_the_default_and_input_examples_give_a_signature(
    tmp_path: Path, regressor: LinearRegression, frame: pd.DataFrame
) -> None:
    saved = mk_sklearn.save_model(regressor, tmp_path / "m", input_example=frame.head(2))
    assert saved.flavors["sklearn"]["serialization_format"] == "skops"
    model = load_model(tmp_path / "m")
    assert model.signature is not None
    assert model.signature.inputs is not None
    assert model.signature.inputs.names == ["x", "y"]
    pd.testing.assert_frame_equal(model.input_example(), frame.head(2))
    requirements = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert [r.split("==")[0] for r in requirements] == ["scikit-learn", "numpy", "scipy", "skops"]


def test_pyfunc_enforces_the_signature(
    tmp_path: Path, regressor: LinearRegression, frame: pd.DataFrame
) -> None:
    mk_sklearn.save_model(regressor, tmp_path / "m", input_example=frame)
    model = load_model(tmp_path / "m")
    reordered = frame[["y", "x"]]
    np.testing.assert_array_equal(model.predict(reordered), regressor.predict(frame))
    with pytest.raises(InputError, match=r"missing input column\(s\) \['y'\]"):
        model.predict(frame[["x"]])


def test_predict_fn(tmp_path: Path, classifier: LogisticRegression, frame: pd.DataFrame) -> None:
    mk_sklearn.save_model(classifier, tmp_path / "m", pyfunc_predict_fn="predict_proba")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m").predict(frame), classifier.predict_proba(frame)
    )
    with pytest.raises(ModelError, match="pyfunc_predict_fn: 'transform' is not one of"):
        mk_sklearn.save_model(classifier, tmp_path / "n", pyfunc_predict_fn="transform")


def test_skops_refuses_untrusted_types_until_listed(tmp_path: Path, frame: pd.DataFrame) -> None:
    tree = DecisionTreeRegressor(max_depth=2).fit(frame, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ModelError, match=r"sklearn.tree._tree.Tree"):
        mk_sklearn.save_model(tree, tmp_path / "a")
    mk_sklearn.save_model(tree, tmp_path / "b", skops_trusted_types=["sklearn.tree._tree.Tree"])
    np.testing.assert_array_equal(load_model(tmp_path / "b").predict(frame), tree.predict(frame))


def test_saving_never_overwrites(tmp_path: Path, regressor: LinearRegression) -> None:
    mk_sklearn.save_model(regressor, tmp_path / "m")
    with pytest.raises(ModelError, match="already exists"):
        mk_sklearn.save_model(regressor, tmp_path / "m")


def test_unknown_format_and_loader(tmp_path: Path, regressor: LinearRegression) -> None:
    with pytest.raises(ModelError, match="serialization_format: 'joblib' is not one of"):
        mk_sklearn.save_model(regressor, tmp_path / "m", serialization_format="joblib")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.xgboost\n"
    )
    with pytest.raises(ModelError, match=r"mlkube cannot load 'mlflow\.xgboost' models"):
        load_model(tmp_path / "x")
