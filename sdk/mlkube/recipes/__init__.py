"""Recipes (issue 15): an opinionated path from data to a registered model.

A recipe directory holds ``recipe.yaml`` (what to train and the bar it must clear),
``profiles/<name>.yaml`` (where it runs: in this process, or as a Run on the cluster) and
``steps/*.py`` (the user's hooks). Its steps, ingest -> split -> transform -> train -> evaluate ->
register (and predict), log to the tracking server, and each is skipped when a run of the same
experiment already computed it from the same inputs (``cache``). docs/recipes.md is the guide.

The modules the steps run with (everything here but ``commands`` and ``cluster``) import nothing
else from mlkube: ``cluster`` ships them into a Run's pod beside the recipe (``bundle``), where the
image has mlflow, scikit-learn and pandas but no mlkube.
"""
