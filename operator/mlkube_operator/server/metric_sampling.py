"""Sampling a metric's history for step charts (metrics/get-history-bulk-interval, issue 14).

The points MLflow's UI draws must be the points ``mlflow server`` would send, so this follows
what its default store (SQL; ``sqlite:///mlflow.db`` since MLflow 3) computes: the history in
the step range, ordered by step, timestamp and value, is cut into ``max_results`` buckets as
SQL's NTILE cuts rows (the first ``n mod k`` buckets one row longer), the first point of each
bucket is kept, and the last point always is, in place of the last bucket's first. Sampling is
by point, not by step, so a step with many values cannot crowd out the rest of the range.
(MLflow's file store samples by step instead; its answers differ, and are not followed.)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

from mlkube_operator.server.entities import Metric


def _order(m: Metric) -> tuple[int, int, float, bool]:
    """MLflow's SQL order of points: NaN is stored as 0 (and sorts after a real 0 through its
    is_nan flag), infinities as the largest finite doubles."""
    nan = math.isnan(m.value)
    value = 0.0 if nan else max(-sys.float_info.max, min(sys.float_info.max, m.value))
    return (m.step, m.timestamp, value, nan)


def bucket_starts(total: int, buckets: int) -> list[int]:
    """The index of the first of ``total`` rows in each of ``buckets`` NTILE buckets."""
    if total <= buckets:
        return list(range(total))
    size, longer = divmod(total, buckets)
    return [b * size + min(b, longer) for b in range(buckets)]


def sample(
    history: Sequence[Metric], max_results: int, start_step: int | None, end_step: int | None
) -> list[Metric]:
    """At most ``max_results`` (at least 1) points of ``history`` with steps in
    ``[start_step, end_step]`` (both or neither given), evenly spread, first and last kept;
    ordered by step, timestamp and value."""
    max_results = max(1, max_results)
    if start_step is not None and end_step is not None:
        history = [m for m in history if start_step <= m.step <= end_step]
    points = sorted(history, key=_order)
    if not points:
        return []
    picked = [points[i] for i in bucket_starts(len(points), max_results)]
    # The buckets' first points miss the last one unless every point is kept: it replaces the
    # last bucket's, so that the range's end is drawn and the count stays ``max_results``.
    picked[-1] = points[-1]
    return picked
