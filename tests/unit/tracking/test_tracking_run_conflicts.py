"""A run's writes under a storm of 409s (issue 17): another writer of the same Run (a second
server replica) may win many races in a row; the write lands once it wins one, and only a storm
past the budget is answered, with a retryable 503 rather than a 409 MLflow's client gives up on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlkube.api.kinds import EXPERIMENT, RUN, Kind
from mlkube.objects import MemoryObjects
from mlkube_operator.kube import Conflict
from mlkube_operator.server.errors import ErrorCode, MlflowError
from mlkube_operator.server.store.tracking.kube import run_writer
from mlkube_operator.server.store.tracking.kube.cache import Extra, TrackingCache
from mlkube_operator.server.store.tracking.kube.drafts import RunDraft
from mlkube_operator.server.store.tracking.kube.history import MetricHistory
from mlkube_operator.server.store.tracking.kube.run_writer import RunWriter

RUN_ID = "cd" * 16
Obj = dict[str, Any]


class RacedRuns:
    """The API server's side of one Run that another writer changes before each of our first
    ``losses`` patches."""

    def __init__(self, run: Obj, losses: int) -> None:
        self.run = run
        self.losses = losses
        self.patches = 0

    def _bump(self) -> None:
        metadata = self.run["metadata"]
        metadata["resourceVersion"] = str(int(metadata["resourceVersion"]) + 1)

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        return copy.deepcopy(self.run)

    def patch(self, kind: Kind, namespace: str, name: str, body: Obj, status: bool) -> Obj:
        self.patches += 1
        if self.losses > 0:
            self.losses -= 1
            self._bump()  # the other writer got there first
            raise Conflict(409, "Conflict", "the object has been modified")
        assert body["metadata"]["resourceVersion"] == self.run["metadata"]["resourceVersion"]
        for section, values in body["status"].items():
            if isinstance(values, dict):
                self.run["status"].setdefault(section, {}).update(values)
            else:
                self.run["status"][section] = values
        self._bump()
        return copy.deepcopy(self.run)


def raced_writer(losses: int) -> tuple[RunWriter, RacedRuns]:
    run = {
        "metadata": {"name": RUN_ID, "namespace": "ns", "resourceVersion": "10", "uid": "u"},
        "spec": {"experiment": "churn"},
        "status": {"runId": RUN_ID, "phase": "Running", "lifecycleStage": "active"},
    }
    cache = TrackingCache(lambda *_: Extra())
    cache.upsert(
        EXPERIMENT,
        {
            "metadata": {"name": "churn", "namespace": "ns", "resourceVersion": "1"},
            "spec": {},
            "status": {"experimentId": "5"},
        },
    )
    cache.upsert(RUN, copy.deepcopy(run))
    api = RacedRuns(run, losses)
    objects = MemoryObjects()
    return RunWriter(api, cache, objects, MetricHistory(objects)), api  # type: ignore[arg-type]


def tag(draft: RunDraft) -> None:
    draft.set_tags({"written": "once"})


def test_a_write_that_loses_many_races_in_a_row_still_lands() -> None:
    writer, api = raced_writer(losses=20)  # more than the eight tries there used to be
    writer.submit("ns", RUN_ID, tag)
    assert api.run["status"]["tags"] == {"written": "once"}
    assert api.patches == 21


def test_a_storm_past_the_budget_is_answered_503_so_clients_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_writer, "CONFLICT_BUDGET", 0.2)
    writer, api = raced_writer(losses=10**6)
    with pytest.raises(MlflowError) as raised:
        writer.submit("ns", RUN_ID, tag)
    assert raised.value.code is ErrorCode.TEMPORARILY_UNAVAILABLE
    assert raised.value.http_status == 503
    assert "tags" not in api.run["status"]
