"""Metric histories in object storage: append-only chunks, compacted per metric key.

Every durable metric write adds one chunk under ``<run>/metrics/log/`` holding all its points.
When a run has many chunks, a background compaction regroups them into per-key segments under
``<run>/metrics/keys/<key>/`` and deletes them, so reading one key touches that key's segments
plus the few recent chunks. Readers collapse identical points, so a compaction interrupted
between writing segments and deleting chunks (or two of them racing) changes nothing visible.
The chunk format and the reading of one key are ``mlkube.metric_chunks``, shared with the
operator (early stopping reads trials' histories).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor

from mlkube.metric_chunks import (
    decode_rows,
    encode_rows,
    log_prefix,
    read_rows,
    segment_prefix,
)
from mlkube.objects import ObjectNotFound, ObjectStore
from mlkube_operator.server.entities import Metric
from mlkube_operator.server.store.tracking import rules

log = logging.getLogger("mlkube.server.history")
COMPACT_AFTER = 32
MERGE_SEGMENTS_AFTER = 16
MAX_TRACKED = 10_000  # runs whose appends since compaction are counted


def encode(points: list[Metric]) -> bytes:
    return encode_rows(
        (p.key, p.value, p.timestamp, p.step, p.model_id, p.dataset_name, p.dataset_digest)
        for p in points
    )


def decode(data: bytes) -> list[Metric]:
    return [Metric(*row) for row in decode_rows(data)]


def _chunk_name() -> str:
    # Time-ordered names keep listings in write order; the random part makes them unique
    # across server replicas.
    return f"{time.time_ns():020d}-{secrets.token_hex(4)}.json"


class MetricHistory:
    """Reads and appends the histories of runs, given each run's metrics prefix."""

    def __init__(self, objects: ObjectStore, readers: int = 8) -> None:
        self.objects = objects
        self._pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="history")
        self._compactor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compact")
        # Appends since the last compaction, per run; the runs written longest ago are
        # forgotten beyond MAX_TRACKED (a forgotten run's count restarts: it is compacted a
        # little later, or by the reader's own merge, never lost).
        self._appended: OrderedDict[str, int] = OrderedDict()
        self._compacting: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._compactor.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def append(self, prefix: str, points: list[Metric]) -> None:
        """Durably add points (one object) and schedule a compaction when the log is long."""
        self.objects.put(f"{log_prefix(prefix)}{_chunk_name()}", encode(points))
        with self._lock:
            self._appended[prefix] = self._appended.pop(prefix, 0) + 1
            while len(self._appended) > MAX_TRACKED:
                self._appended.popitem(last=False)
            due = self._appended[prefix] >= COMPACT_AFTER and prefix not in self._compacting
            if due:
                self._compacting.add(prefix)
                self._appended[prefix] = 0
        if due:
            self._compactor.submit(self._compact_logged, prefix)

    def read(self, prefix: str, key: str) -> list[Metric]:
        """Every point of ``key``, ordered and with identical points collapsed."""
        for _ in range(3):
            try:
                return self._read(prefix, key)
            except ObjectNotFound:
                continue  # a compaction removed a chunk we listed: list again
        return self._read(prefix, key)

    def _read(self, prefix: str, key: str) -> list[Metric]:
        found = read_rows(self.objects, prefix, key, self._pool.map)
        if len(found.log_keys) > 2 * COMPACT_AFTER:
            self._schedule(prefix)
        if len(found.segment_keys) > MERGE_SEGMENTS_AFTER:
            segment = segment_prefix(prefix, key)
            self._compactor.submit(self._merge_segments, segment, found.segment_keys)
        return rules.history_order(Metric(*row) for row in found.rows)

    def _schedule(self, prefix: str) -> None:
        with self._lock:
            if prefix in self._compacting:
                return
            self._compacting.add(prefix)
        self._compactor.submit(self._compact_logged, prefix)

    def _compact_logged(self, prefix: str) -> None:
        try:
            self.compact(prefix)
        except Exception:
            log.exception("compacting %s failed; the chunks stay readable as they are", prefix)
        finally:
            with self._lock:
                self._compacting.discard(prefix)

    def compact(self, prefix: str) -> None:
        """Regroup the log chunks into per-key segments, then delete the chunks. A chunk gone
        meanwhile was compacted by someone else (another replica): its points are in segments."""
        log_keys = [o.key for o in self.objects.list_all(log_prefix(prefix))]
        by_key: dict[str, list[Metric]] = defaultdict(list)
        compacted = []
        for key, data in zip(log_keys, self._pool.map(self._get_or_none, log_keys), strict=True):
            if data is None:
                continue
            compacted.append(key)
            for point in decode(data):
                by_key[point.key].append(point)
        if not compacted:
            return
        name = _chunk_name()
        for key, points in by_key.items():
            self.objects.put(f"{segment_prefix(prefix, key)}{name}", encode(points))
        self.objects.delete(compacted)

    def _get_or_none(self, key: str) -> bytes | None:
        try:
            return self.objects.get(key)
        except ObjectNotFound:
            return None

    def _merge_segments(self, segment: str, segment_keys: list[str]) -> None:
        try:
            points = [
                p for data in self._pool.map(self.objects.get, segment_keys) for p in decode(data)
            ]
            self.objects.put(f"{segment}{_chunk_name()}", encode(rules.history_order(points)))
            self.objects.delete(segment_keys)
        except ObjectNotFound:
            pass  # another merge got there first; its result holds these points
        except Exception:
            log.exception("merging %s failed; the segments stay readable as they are", segment)
