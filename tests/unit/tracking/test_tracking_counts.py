"""Experiment run counts: computed from the cache, written by the tracking server only when they
moved (docs/architecture.md: the server is their one writer)."""

from __future__ import annotations

from typing import Any, cast

from mlkube.api.kinds import EXPERIMENT, RUN
from mlkube_operator.kube import KubeClient
from mlkube_operator.server.store.tracking.kube.cache import Extra, TrackingCache
from mlkube_operator.server.store.tracking.kube.counts import RunCounts, run_counts


def no_extra(namespace: str, experiment_id: str, run_id: str, name: str) -> Extra:
    raise AssertionError("no extra document in these tests")


def experiment(version: int, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "churn", "namespace": "ns", "resourceVersion": str(version)},
        "spec": {},
        "status": {"experimentId": "5", **status},
    }


def run(name: str, phase: str | None, version: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": str(version)},
        "spec": {"experiment": "churn"},
        "status": {"phase": phase} if phase else {},
    }


class Recorder:
    """The one API call a sweep makes: a status patch, answered with the patched object."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def patch(
        self, kind: Any, namespace: str, name: str, body: dict[str, Any], *, status: bool
    ) -> dict[str, Any]:
        assert kind is EXPERIMENT
        assert status
        self.patches.append(body["status"])
        return experiment(100 + len(self.patches), **body["status"])


def test_counts_follow_the_phases() -> None:
    assert run_counts({"Pending": 1, "Running": 2, "Succeeded": 3, "Failed": 1, "Killed": 1}) == {
        "runs": 8,
        "activeRuns": 3,
        "succeededRuns": 3,
        "failedRuns": 2,
    }
    assert run_counts({}) == {"runs": 0, "activeRuns": 0, "succeededRuns": 0, "failedRuns": 0}


def test_a_sweep_writes_only_counts_that_moved() -> None:
    cache = TrackingCache(no_extra)
    cache.upsert(EXPERIMENT, experiment(1))
    cache.upsert(RUN, run("a", "Running"))
    cache.upsert(RUN, run("b", None))  # a project run the operator has not started: Pending
    api = Recorder()
    counts = RunCounts(cast(KubeClient, api), cache)
    assert counts.sweep() == 1
    assert api.patches == [{"runs": 2, "activeRuns": 2, "succeededRuns": 0, "failedRuns": 0}]
    assert counts.sweep() == 0  # the written counts are in the cache: nothing moved
    cache.upsert(RUN, run("a", "Succeeded", version=2))
    cache.upsert(RUN, run("c", "Failed"))
    assert counts.sweep() == 1
    assert api.patches[-1] == {"runs": 3, "activeRuns": 1, "succeededRuns": 1, "failedRuns": 1}
    cache.remove(RUN, run("c", "Failed", version=3))
    counts.sweep()
    assert api.patches[-1]["runs"] == 2
