"""Metric histories in object storage: the chunk format, and where one key's points are.

The tracking server writes histories (``server/store/tracking/kube/history.py`` appends chunks
under ``<run>/metrics/log/`` and compacts them into per-key segments under
``<run>/metrics/keys/<key>/``); the operator's sweep controller reads the objective's history of
running trials for early stopping. Both read through ``read_rows``, so the format and the layout
live here once, in the layer both may import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mlkube import layout
from mlkube.objects import ObjectStore

# One point: key, value, timestamp (ms), step, model id, dataset name, dataset digest.
Row = tuple[str, float, int, int, str | None, str | None, str | None]
Fetch = Callable[[Callable[[str], bytes], Iterable[str]], Iterator[bytes]]


def encode_value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def decode_value(value: float | str) -> float:
    if isinstance(value, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value]
    return float(value)


def encode_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """One chunk holding ``rows`` (each as ``Row`` orders its fields)."""
    out = [[r[0], encode_value(r[1]), *r[2:7]] for r in rows]
    return json.dumps({"v": 1, "points": out}, separators=(",", ":")).encode()


def decode_rows(data: bytes) -> list[Row]:
    body: dict[str, Any] = json.loads(data)
    return [(r[0], decode_value(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in body["points"]]


def log_prefix(prefix: str) -> str:
    """Where a run's uncompacted chunks are (``prefix``: ``layout.metrics_prefix``)."""
    return f"{prefix}log/"


def segment_prefix(prefix: str, key: str) -> str:
    """Where the compacted segments of metric ``key`` are."""
    return f"{prefix}keys/{layout.metric_key_segment(key)}/"


@dataclass(frozen=True)
class KeyRead:
    """The points of one key, unordered and possibly repeated (a compaction may have copied a
    chunk into a segment before deleting it), and the objects they came from."""

    rows: list[Row]
    log_keys: list[str]
    segment_keys: list[str]


def read_rows(objects: ObjectStore, prefix: str, key: str, fetch: Fetch = map) -> KeyRead:
    """Every stored point of ``key``: from the log chunks (filtered) and its segments.

    Raises ``ObjectNotFound`` when a listed chunk was compacted away meanwhile: list again.
    ``fetch`` maps the GETs (a thread pool's ``map`` to fetch in parallel).
    """
    log_keys = [o.key for o in objects.list_all(log_prefix(prefix))]
    segment_keys = [o.key for o in objects.list_all(segment_prefix(prefix, key))]
    chunks = list(fetch(objects.get, log_keys + segment_keys))
    rows = [r for data in chunks[: len(log_keys)] for r in decode_rows(data) if r[0] == key]
    rows += [r for data in chunks[len(log_keys) :] for r in decode_rows(data)]
    return KeyRead(rows, log_keys, segment_keys)
