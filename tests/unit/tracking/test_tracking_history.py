"""Metric histories in object storage: appends, compaction into per-key segments, merges."""

from __future__ import annotations

import math

import pytest

from mlkube.objects import MemoryObjects
from mlkube_operator.server.entities import Metric
from mlkube_operator.server.store.tracking.kube import history
from mlkube_operator.server.store.tracking.kube.history import MetricHistory

PREFIX = "ns/experiments/1/" + "a" * 32 + "/metrics/"


def test_compaction_keeps_every_point_and_shrinks_the_log() -> None:
    objects = MemoryObjects()
    store = MetricHistory(objects)
    try:
        for step in range(history.COMPACT_AFTER + 3):
            store.append(
                PREFIX,
                [Metric("loss", 1 / (step + 1), step, step), Metric("acc", step, step, step)],
            )
        store.compact(PREFIX)  # what the background compactor does, here synchronously
        logs = objects.list_all(PREFIX + "log/")
        assert logs == []
        assert len(objects.list_all(PREFIX + "keys/")) >= 2
        store.append(PREFIX, [Metric("loss", math.nan, 999, 999)])
        points = store.read(PREFIX, "loss")
        assert [p.step for p in points] == [*range(history.COMPACT_AFTER + 3), 999]
        assert math.isnan(points[-1].value)
        assert len(store.read(PREFIX, "acc")) == history.COMPACT_AFTER + 3
    finally:
        store.close()


def test_an_interrupted_compaction_shows_no_duplicates() -> None:
    objects = MemoryObjects()
    store = MetricHistory(objects)
    try:
        store.append(PREFIX, [Metric("m", 1.0, 1, 0), Metric("m", 2.0, 2, 1)])
        chunk = objects.list_all(PREFIX + "log/")[0].key
        saved = objects.get(chunk)
        store.compact(PREFIX)
        objects.put(chunk, saved)  # as if the chunk's deletion had not happened
        assert [p.value for p in store.read(PREFIX, "m")] == [1.0, 2.0]
    finally:
        store.close()


def test_chunks_round_trip_every_field() -> None:
    point = Metric("k/with/slash", -math.inf, 5, 6, "m-1", "ds", "digest")
    assert history.decode(history.encode([point])) == [point]


def test_append_counts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "MAX_TRACKED", 3)
    store = MetricHistory(MemoryObjects())
    try:
        for run in range(10):
            store.append(f"ns/experiments/1/{run:032x}/metrics/", [Metric("loss", 1.0, 0, 0)])
        assert len(store._appended) == 3  # only the runs written last are remembered
    finally:
        store.close()
