"""Prometheus metrics of the scoring server, served at ``/metrics``.

- ``mlkube_serve_requests_total{path, status}``: every HTTP request answered;
- ``mlkube_serve_errors_total{error_code}``: failed scoring requests, by MLflow error code;
- ``mlkube_serve_request_duration_seconds{path}``: latency histogram.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``mlkube serve``) makes
every worker write its samples there and any worker's ``/metrics`` sums them all.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

PATHS = frozenset({"/invocations", "/ping", "/health", "/version", "/metrics"})
# Scoring latencies of small models sit between 100 µs and a few ms.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The server's metrics in their own registry (one per app, so tests can build many)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlkube_serve_requests",
            "HTTP requests answered, by path and status code.",
            ["path", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "mlkube_serve_errors",
            "Failed scoring requests, by MLflow error code.",
            ["error_code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlkube_serve_request_duration_seconds",
            "Time from request to response, by path.",
            ["path"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        # Labelled children, looked up once: .labels() costs more than the increment.
        self._requests: dict[tuple[str, int], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    def observe(self, path: str, status: int, seconds: float) -> None:
        if path not in PATHS:
            path = "other"
        key = (path, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = self.requests.labels(path, str(status))
        counter.inc()
        histogram = self._latency.get(path)
        if histogram is None:
            histogram = self._latency[path] = self.latency.labels(path)
        histogram.observe(seconds)

    def error(self, error_code: str) -> None:
        self.errors.labels(error_code).inc()

    def render(self) -> bytes:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
            return generate_latest(registry)
        return generate_latest(self.registry)
