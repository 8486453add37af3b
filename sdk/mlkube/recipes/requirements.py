"""The pip requirements logged with a model, named from the model itself.

mlflow infers them by importing the model in a subprocess, which takes from seconds to half a
minute per model on a busy node. A recipe's model is a scikit-learn estimator whose parts
(``get_params(deep=True)``) name the packages they come from: scikit-learn, plus e.g. xgboost
for an XGBRegressor, each pinned to the version installed here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, packages_distributions, version
from typing import Any


def _parts(model: Any) -> list[Any]:
    params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
    return [model, *(v for v in params.values() if hasattr(v, "get_params"))]


def pip_requirements(model: Any) -> list[str]:
    providers = packages_distributions()
    names = {"mlflow", "scikit-learn"}
    for part in _parts(model):
        names.update(providers.get(type(part).__module__.split(".")[0], []))
    pinned = []
    for name in sorted(names):
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pinned.append(name)
    return pinned
