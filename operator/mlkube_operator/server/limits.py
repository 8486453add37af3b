"""MLflow's size limits and name rules, checked at the HTTP edge before anything is stored.

Numbers from shared/MLFLOW-PROTOCOL.md; a request past one gets INVALID_PARAMETER_VALUE naming the
field, the limit and the size it had.
"""

from __future__ import annotations

import posixpath

from mlkube_operator.server.errors import invalid

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_RUN_TAG_VALUE = 8000
MAX_EXPERIMENT_TAG_VALUE = 20000
MAX_EXPERIMENT_NAME = 500
MAX_RUN_NAME = 250
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTITIES = 1000
MAX_BATCH_BYTES = 1024 * 1024
MAX_HISTORY_PAGE = 25000
# metrics/get-history-bulk-interval: runs per request, points per run (and its default).
MAX_INTERVAL_RUNS = 100
MAX_INTERVAL_POINTS = 2500
MAX_SEARCH_RUNS = 50000
DEFAULT_SEARCH_RUNS = 1000
MAX_SEARCH_EXPERIMENTS = 50000
DEFAULT_SEARCH_EXPERIMENTS = 1000
MAX_LOGGED_MODEL_PARAM_VALUE = 6000
MAX_DATASET_NAME = 500
MAX_DATASET_DIGEST = 36
MAX_DATASET_SCHEMA = 1_048_575
MAX_DATASET_PROFILE = 16_384
MAX_DATASET_SOURCE = 65_535
# experiments/search-datasets (the runs table's dataset filter): experiments per request, and
# summaries per answer (MLflow's SqlAlchemyStore stops there too).
MAX_DATASET_SEARCH_EXPERIMENTS = 20
MAX_DATASET_SUMMARIES = 1000


def check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise invalid(
            f"{what} is {len(value)} characters long, more than the limit of {limit}; shorten it"
        )


def truncated(value: str, limit: int) -> str:
    """Param and run tag values past their limit are cut to it, as MLflow does by default
    (MLFLOW_TRUNCATE_LONG_VALUES), rather than rejected."""
    return value if len(value) <= limit else value[:limit]


def check_key(kind: str, key: str) -> None:
    """A metric, param or tag name: non-empty, at most 250 characters, and path-safe, because
    names become file names in some stores and must not resolve to other names."""
    if not key:
        raise invalid(f"{kind} name must be a non-empty string")
    check_length(f"{kind} name {key[:40]!r}", key, MAX_KEY)
    if "\x00" in key:
        raise invalid(f"{kind} name {key!r} contains a NUL character")
    normal = posixpath.normpath(key)
    if normal != key or posixpath.isabs(key) or key.startswith(".."):
        raise invalid(
            f"invalid {kind} name {key!r}: names may be treated as file paths and must not "
            f"resolve to another name (this one resolves to {normal!r})"
        )
