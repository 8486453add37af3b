"""The ingest step's hook: return the recipe's data as one pandas DataFrame, the target column
(recipe.yaml's target_col) among its columns. Read a CSV, a parquet file or a database here."""

import pandas as pd
from sklearn.datasets import load_diabetes


def load_data() -> pd.DataFrame:
    # scikit-learn's diabetes data (442 patients, 10 features), shipped with it: no download.
    data = load_diabetes(as_frame=True)
    return data.frame.rename(columns={"target": "progression"})
