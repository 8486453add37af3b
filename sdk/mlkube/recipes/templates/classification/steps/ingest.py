"""The ingest step's hook: return the recipe's data as one pandas DataFrame, the target column
(recipe.yaml's target_col) among its columns. Read a CSV, a parquet file or a database here."""

import pandas as pd
from sklearn.datasets import load_breast_cancer


def load_data() -> pd.DataFrame:
    # scikit-learn's breast cancer data (569 tumours, 30 features), shipped with it. For three
    # classes instead, return sklearn.datasets.load_iris(as_frame=True).frame, and in
    # recipe.yaml set target_col: target and remove positive_class.
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns=["target"])
    frame["diagnosis"] = data.target_names[data.target]  # "malignant" or "benign"
    return frame
