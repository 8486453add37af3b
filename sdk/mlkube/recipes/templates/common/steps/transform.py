"""The transform step's hook: return an unfitted scikit-learn transformer (or None to pass the
features through). It is fitted on the training set only and becomes the first stage of the
registered model, so the model scores raw rows.

Data with text columns needs them encoded, e.g. a ColumnTransformer of a StandardScaler and a
OneHotEncoder. Models are saved with skops, which loads only types it trusts: list any other
type the transformer holds in recipe.yaml's steps.transform.skops_trusted_types (a failed save
names them), such as sklearn.compose._column_transformer.make_column_selector.
"""

from sklearn.preprocessing import StandardScaler


def transformer() -> StandardScaler:
    return StandardScaler()
