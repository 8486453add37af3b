"""Which pod and port a port-forward to a Service goes to (mlkube.client.forward.pick)."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.client.forward import ForwardError, Target, pick


def service(*ports: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "mlkube-server", "namespace": "mlkube-system"},
        "spec": {"selector": {"app": "server"}, "ports": list(ports)},
    }


def pod(name: str, *, ready: bool = True, deleting: bool = False, phase: str = "Running") -> dict:
    metadata: dict[str, Any] = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": metadata,
        "spec": {
            "containers": [
                {
                    "name": "server",
                    "ports": [
                        {"name": "http", "containerPort": 5000},
                        {"name": "metrics", "containerPort": 9090},
                    ],
                }
            ]
        },
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


HTTP = {"name": "http", "port": 80, "targetPort": "http"}


def test_the_http_ports_named_target_on_the_first_ready_pod() -> None:
    pods = [pod("c"), pod("a", ready=False), pod("b", deleting=True), pod("d")]
    assert pick(service({"name": "metrics", "port": 9090}, HTTP), pods) == Target("c", 5000)


def test_a_numbered_target_or_none_at_all() -> None:
    assert pick(service({"port": 80, "targetPort": 8080}), [pod("a")]) == Target("a", 8080)
    assert pick(service({"port": 80, "targetPort": "8081"}), [pod("a")]) == Target("a", 8081)
    assert pick(service({"port": 5000}), [pod("a")]) == Target("a", 5000)


@pytest.mark.parametrize(
    ("ports", "pods", "message"),
    [
        ([], [pod("a")], "has no ports"),
        ([HTTP], [pod("a", ready=False), pod("b", phase="Pending")], "no ready pod"),
        ([HTTP], [], "no ready pod"),
        ([{"port": 80, "targetPort": "web"}], [pod("a")], "no port named 'web'"),
    ],
)
def test_why_there_is_nothing_to_forward_to(
    ports: list[dict[str, Any]], pods: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ForwardError, match=message):
        pick(service(*ports), pods)
