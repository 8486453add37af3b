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
    cache.replace(EXPERIMENT, [experiment(1), experiment(2, name="other", experimentId="6")], None)
    assert {e.experiment_id for e in cache.list_experiments("ns", ViewType.ALL)} == {"5", "6"}
    cache.replace(EXPERIMENT, [experiment(3)], None)
    assert [e.experiment_id for e in cache.list_experiments("ns", ViewType.ALL)] == ["5"]
    assert cache.experiment("ns", "6") is None
    assert cache.max_experiment_id == 6  # ids seen once stay taken


def test_a_relist_of_one_namespace_forgets_only_that_namespaces_deleted_objects() -> None:
    """With MLKUBE_WATCH_NAMESPACES each namespace has its own informer (shared/watched.py):
    team-a's relist says nothing of team-b's objects."""
    cache = TrackingCache(no_extra)

    def in_ns(namespace: str, version: int, name: str, experiment_id: str) -> dict[str, Any]:
        obj = experiment(version, name=name, experimentId=experiment_id)
        return {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}

    cache.replace(
        EXPERIMENT, [in_ns("team-a", 1, "a1", "1"), in_ns("team-a", 2, "a2", "2")], "team-a"
    )
    cache.replace(EXPERIMENT, [in_ns("team-b", 3, "b1", "3")], "team-b")
    cache.replace(EXPERIMENT, [in_ns("team-a", 4, "a1", "1")], "team-a")  # a2 was deleted
    assert [e.experiment_id for e in cache.list_experiments("team-a", ViewType.ALL)] == ["1"]
    assert [e.experiment_id for e in cache.list_experiments("team-b", ViewType.ALL)] == ["3"]
    cache.replace(EXPERIMENT, [], "team-c")  # a namespace with nothing yet drops nothing
    assert [e.experiment_id for e in cache.list_experiments("team-b", ViewType.ALL)] == ["3"]
    cache.replace(EXPERIMENT, [in_ns("team-b", 5, "b1", "3")], None)  # cluster-wide: all
    assert cache.list_experiments("team-a", ViewType.ALL) == []
    assert [e.experiment_id for e in cache.list_experiments("team-b", ViewType.ALL)] == ["3"]


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
