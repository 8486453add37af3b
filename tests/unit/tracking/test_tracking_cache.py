"""The watch-fed cache: the newer resourceVersion wins, whoever delivers it."""

from __future__ import annotations

from typing import Any

from mlkube.api.kinds import EXPERIMENT, RUN
from mlkube_operator.server.entities import ViewType
from mlkube_operator.server.store.tracking.kube.cache import Extra, TrackingCache

RUN_ID = "ab" * 16


def no_extra(namespace: str, experiment_id: str, run_id: str, name: str) -> Extra:
    raise AssertionError("no extra document in these tests")


def experiment(version: int, name: str = "churn", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": str(version)},
        "spec": {},
        "status": {"experimentId": "5", **status},
    }


def run(version: int, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": RUN_ID, "namespace": "ns", "resourceVersion": str(version)},
        "spec": {"experiment": "churn"},
        "status": {"runId": RUN_ID, "phase": "Running", **status},
    }


def test_an_older_copy_never_replaces_a_newer_one() -> None:
    cache = TrackingCache(no_extra)
    cache.upsert(EXPERIMENT, experiment(1))
    cache.put_run(run(10, params={"a": "1"}), None)  # the store's own write, just answered
    cache.upsert(RUN, run(9))  # the watch, catching up
    record = cache.run("ns", RUN_ID)
    assert record is not None
    assert record.entity is not None
    assert record.entity.params == {"a": "1"}
    assert record.entity.info.experiment_id == "5"
    cache.remove(RUN, run(8))  # a stale deletion is ignored too
    assert cache.run("ns", RUN_ID) is not None
    cache.remove(RUN, run(11))
    assert cache.run("ns", RUN_ID) is None


def test_a_relist_forgets_what_was_deleted_meanwhile() -> None:
    cache = TrackingCache(no_extra)
    cache.replace(EXPERIMENT, [experiment(1), experiment(2, name="other", experimentId="6")])
    assert {e.experiment_id for e in cache.list_experiments("ns", ViewType.ALL)} == {"5", "6"}
    cache.replace(EXPERIMENT, [experiment(3)])
    assert [e.experiment_id for e in cache.list_experiments("ns", ViewType.ALL)] == ["5"]
    assert cache.experiment("ns", "6") is None
    assert cache.max_experiment_id == 6  # ids seen once stay taken


def test_runs_learn_their_experiments_id_when_it_arrives() -> None:
    cache = TrackingCache(no_extra)
    cache.upsert(RUN, run(1))
    cache.upsert(EXPERIMENT, experiment(2))
    record = cache.run("ns", RUN_ID)
    assert record is not None
    assert record.entity is not None
    assert record.entity.info.experiment_id == "5"
    assert [r.resource.metadata.name for r in cache.runs_of("ns", "churn")] == [RUN_ID]


def test_a_deleted_run_stays_deleted_whatever_comes_late() -> None:
    """The shared cache's tombstones (store/shared/cache.py) serve the tracking cache too."""
    cache = TrackingCache(no_extra)
    cache.upsert(EXPERIMENT, experiment(1))
    alive = {**run(5), "metadata": {**run(5)["metadata"], "uid": "u-1"}}
    cache.upsert(RUN, alive)
    cache.remove(RUN, {**alive, "metadata": {**alive["metadata"], "resourceVersion": "6"}})
    assert cache.run("ns", RUN_ID) is None
    late = {**run(4), "metadata": {**run(4)["metadata"], "uid": "u-1"}}
    cache.put_run(late, None)  # a stale write response of the deleted object
    assert cache.run("ns", RUN_ID) is None
    reborn = {**run(7), "metadata": {**run(7)["metadata"], "uid": "u-2"}}
    cache.upsert(RUN, reborn)  # a new object of the same name is another matter
    assert cache.run("ns", RUN_ID) is not None
