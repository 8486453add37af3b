from __future__ import annotations

import struct

from e2e.cluster.agent.dns import Zone, build_answer, parse_question
from e2e.cluster.agent.endpoints import ServiceEndpoints
from e2e.cluster.agent.model import Pod, Service


def query(name: str, qtype: int = 1, ident: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return (
        struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", qtype, 1)
    )


def answers(response: bytes) -> tuple[int, list[str]]:
    _, flags, _, count, _, _ = struct.unpack("!HHHHHH", response[:12])
    question_end = parse_question(response)[2].end
    out = []
    offset = question_end
    for _ in range(count):
        offset += 12
        out.append(".".join(str(b) for b in response[offset : offset + 4]))
        offset += 4
    return flags & 0xF, out


SERVICES = [
    Service.model_validate(
        {
            "metadata": {"namespace": "ml", "name": "minio"},
            "spec": {"clusterIP": "127.10.0.20", "ports": [{"port": 9000}]},
        }
    ),
    Service.model_validate(
        {
            "metadata": {"namespace": "ml", "name": "db"},
            "spec": {"clusterIP": "None", "selector": {"app": "db"}},
        }
    ),
]
PODS = [
    Pod.model_validate(
        {
            "metadata": {"namespace": "ml", "name": "db-0", "labels": {"app": "db"}},
            "spec": {"hostname": "db-0", "subdomain": "db", "containers": [{"name": "c"}]},
            "status": {
                "podIP": "127.20.0.9",
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    )
]
ZONE = Zone(lambda: SERVICES, ServiceEndpoints(lambda: PODS, lambda: [], ("127.0.0.1", 6443)))


def test_service_names_resolve_to_cluster_ips() -> None:
    assert ZONE.lookup("minio.ml.svc.cluster.local") == ["127.10.0.20"]
    assert ZONE.lookup("MINIO.ml.svc.cluster.local.") == ["127.10.0.20"]


def test_headless_services_and_their_pods_resolve_to_pod_ips() -> None:
    assert ZONE.lookup("db.ml.svc.cluster.local") == ["127.20.0.9"]
    assert ZONE.lookup("db-0.db.ml.svc.cluster.local") == ["127.20.0.9"]
    assert ZONE.lookup("127-20-0-9.ml.pod.cluster.local") == ["127.20.0.9"]


def test_unknown_and_outside_names_are_nxdomain() -> None:
    assert ZONE.lookup("nope.ml.svc.cluster.local") is None
    assert ZONE.lookup("minio.ml.svc.cluster.local.ml.svc.cluster.local") is None
    assert ZONE.lookup("example.com") is None
    rcode, found = answers(ZONE.answer(query("example.com")))
    assert (rcode, found) == (3, [])


def test_an_a_query_is_answered_with_the_address_and_the_same_id() -> None:
    response = ZONE.answer(query("minio.ml.svc.cluster.local"))
    assert response[:2] == b"\x12\x34"
    assert answers(response) == (0, ["127.10.0.20"])


def test_other_types_of_existing_names_get_an_empty_answer() -> None:
    assert answers(ZONE.answer(query("minio.ml.svc.cluster.local", qtype=28))) == (0, [])


def test_garbage_gets_a_format_error() -> None:
    assert build_answer(b"\x00\x01", 0, [])[3] & 0xF == 1
    assert ZONE.answer(b"\x00\x01\x00\x00\x00\x00")[3] & 0xF == 1
