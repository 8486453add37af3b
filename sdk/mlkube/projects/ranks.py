"""One rank of a distributed Run (``spec.workers`` > 1), as the runner in its pod sees it.

Every rank's pod gets the run's ``MLFLOW_RUN_ID`` and the torch.distributed variables (the
operator's resources/distributed.py). So that the Run is ONE MLflow run, rank 0's code owns it
and the other ranks' code never reaches it: they run without ``MLFLOW_RUN_ID``,
``MLFLOW_TRACKING_URI`` and ``MLFLOW_EXPERIMENT_ID`` (an mlflow call there logs to MLflow's
default local store, ./mlflow.db inside the pod, which goes with it: not to a second run of the
experiment). The runner itself, not the
user's code, tags the run with where each rank ran (``mlkube.rank.<r>.host``), so the run
still says which pods took part.

Part of runner.pyz: the standard library only, Python 3.9.
"""

from __future__ import annotations

from collections.abc import Mapping

# What ranks > 0 run without: the run to log to, the server and experiment to make one in.
OWNED_BY_RANK_0 = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")


class RankError(ValueError):
    """The pod's RANK is not one of the run's ranks (the Job would be wrong)."""


def rank_of(env: Mapping[str, str], workers: int) -> int:
    """This pod's rank: RANK, which the operator sets from the Job's completion index."""
    text = env.get("RANK", "")
    if not text.isdigit() or int(text) >= workers:
        raise RankError(f"RANK is {text!r}, not one of the run's ranks 0..{workers - 1}")
    return int(text)


def host_tag(rank: int) -> str:
    return f"mlkube.rank.{rank}.host"


def code_environment(env: Mapping[str, str], rank: int | None) -> dict[str, str]:
    """The environment of the entry point of ``rank`` (None: a run of one worker)."""
    if not rank:
        return dict(env)
    return {k: v for k, v in env.items() if k not in OWNED_BY_RANK_0}
