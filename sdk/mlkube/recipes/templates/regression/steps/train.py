"""The train step's hook: return an unfitted scikit-learn estimator. It is called with
recipe.yaml's steps.train.estimator_params as keyword arguments; changing them retrains
without ingesting, splitting or transforming again."""

from typing import Any

from sklearn.linear_model import ElasticNet


def estimator(**params: Any) -> ElasticNet:
    return ElasticNet(random_state=42, **params)
