from __future__ import annotations

from typing import Any

from e2e.cluster.agent.endpoints import ServiceEndpoints, usable
from e2e.cluster.agent.model import EndpointSlice, Pod, Service, ServicePort


def pod(name: str, ip: str, *, ready: bool = True, deleting: bool = False, **labels: str) -> Pod:
    meta: dict[str, Any] = {"namespace": "ml", "name": name, "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return Pod.model_validate(
        {
            "metadata": meta,
            "spec": {
                "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]
            },
            "status": {
                "phase": "Running",
                "podIP": ip,
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        }
    )


WEB = Service.model_validate(
    {
        "metadata": {"namespace": "ml", "name": "web"},
        "spec": {
            "clusterIP": "127.10.0.5",
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": "http"}],
        },
    }
)
PORT: ServicePort = WEB.spec.ports[0]


def test_selected_pods_become_endpoints_on_their_named_port() -> None:
    pods = [
        pod("a", "127.20.0.2"),
        pod("b", "127.20.0.3", ready=False),
        pod("c", "127.20.0.4", app="other"),
    ]
    found = ServiceEndpoints(lambda: pods, lambda: [], ("127.0.0.1", 6443)).of_port(WEB, PORT)
    assert [(b.ip, b.port, b.ready) for b in found] == [
        ("127.20.0.2", 8080, True),
        ("127.20.0.3", 8080, False),
    ]
    assert [b.ip for b in usable(found)] == ["127.20.0.2"]


def test_terminating_pods_are_a_fallback_only() -> None:
    pods = [pod("a", "127.20.0.2", deleting=True)]
    found = ServiceEndpoints(lambda: pods, lambda: [], ("127.0.0.1", 6443)).of_port(WEB, PORT)
    assert found[0].ready is False
    assert found[0].serving is True
    assert [b.ip for b in usable(found)] == ["127.20.0.2"]


def test_the_kubernetes_service_is_the_api_server() -> None:
    kubernetes = Service.model_validate(
        {
            "metadata": {"namespace": "default", "name": "kubernetes"},
            "spec": {"clusterIP": "127.10.0.1", "ports": [{"name": "https", "port": 443}]},
        }
    )
    found = ServiceEndpoints(lambda: [], lambda: [], ("127.0.0.1", 6443)).of_port(
        kubernetes, kubernetes.spec.ports[0]
    )
    assert [(b.ip, b.port) for b in found] == [("127.0.0.1", 6443)]


def test_services_without_a_selector_use_endpoint_slices() -> None:
    external = Service.model_validate(
        {
            "metadata": {"namespace": "ml", "name": "ext"},
            "spec": {"clusterIP": "127.10.0.6", "ports": [{"name": "db", "port": 5432}]},
        }
    )
    piece = EndpointSlice.model_validate(
        {
            "metadata": {
                "namespace": "ml",
                "name": "ext-1",
                "labels": {"kubernetes.io/service-name": "ext"},
            },
            "endpoints": [{"addresses": ["10.0.0.7"]}],
            "ports": [{"name": "db", "port": 15432}],
        }
    )
    found = ServiceEndpoints(lambda: [], lambda: [piece], ("127.0.0.1", 6443)).of_port(
        external, external.spec.ports[0]
    )
    assert [(b.ip, b.port, b.ready) for b in found] == [("10.0.0.7", 15432, True)]
