"""The tracking server's Prometheus metrics (served on --metrics-port when it is set)."""

from __future__ import annotations

from prometheus_client import Counter

DENIED = Counter(
    "mlkube_server_denied_requests",
    "Requests refused by authentication (reason=unauthenticated) or RBAC (reason=forbidden).",
    ["reason", "verb", "resource"],
)

REFUSED = Counter(
    "mlkube_server_refused_requests",
    "Requests refused for their size or pace (413, 408, 431) or because the server was busy "
    "(503 past --max-in-flight).",
    ["reason"],
)
