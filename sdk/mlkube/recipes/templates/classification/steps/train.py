"""The train step's hook: return an unfitted scikit-learn estimator. It is called with
recipe.yaml's steps.train.estimator_params as keyword arguments; changing them retrains
without ingesting, splitting or transforming again. ROC AUC and log loss need predict_proba."""

from typing import Any

from sklearn.linear_model import LogisticRegression


def estimator(**params: Any) -> LogisticRegression:
    return LogisticRegression(max_iter=1000, **params)
