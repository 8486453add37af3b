"""Cluster DNS: how a pod reaches ``<service>.<namespace>.svc`` names.

The agent answers DNS on the cluster DNS address (the ``kube-dns`` Service's ClusterIP, port 53,
UDP) and every ``ClusterFirst`` pod's ``/etc/resolv.conf`` points there with the kubelet's search
path (``<ns>.svc.cluster.local svc.cluster.local cluster.local``, ``ndots:5``), so ``minio``,
``minio.mlkube``, ``minio.mlkube.svc`` and the full name all resolve inside pods, from Python, Go
(MinIO) and glibc alike. It serves what CoreDNS's kubernetes plugin serves for A queries:

- ``<svc>.<ns>.svc.<domain>``: the ClusterIP, or the ready endpoints' IPs of a headless Service;
- ``<hostname>.<svc>.<ns>.svc.<domain>``: an endpoint with a hostname (StatefulSet pods);
- ``<a-b-c-d>.<ns>.pod.<domain>``: the pod IP a.b.c.d.

Existing names get an empty answer for other types (AAAA), unknown names NXDOMAIN; names outside
the cluster domain get NXDOMAIN too, as there is no upstream on a loopback-only machine. The host
itself does not use this server: from the host, use ClusterIPs (or ``kubectl port-forward``-free
NodePorts on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from e2e.cluster.agent.endpoints import ServiceEndpoints
from e2e.cluster.agent.model import Service

log = logging.getLogger(__name__)

TYPE_A = 1
CLASS_IN = 1
RCODE_OK = 0
RCODE_FORMERR = 1
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
TTL = 5


@dataclass(frozen=True)
class Question:
    name: str
    qtype: int
    qclass: int
    end: int  # offset just past the question


class FormatError(ValueError):
    pass


def parse_question(message: bytes) -> tuple[int, int, Question]:
    """(id, flags, first question) of a query."""
    if len(message) < 12:
        raise FormatError("short header")
    ident, flags, qdcount = struct.unpack("!HHH", message[:6])
    if qdcount < 1:
        raise FormatError("no question")
    labels = []
    offset = 12
    while True:
        if offset >= len(message):
            raise FormatError("truncated name")
        length = message[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise FormatError("compressed name in a question")
        labels.append(message[offset : offset + length].decode("ascii", errors="replace"))
        offset += length
    if offset + 4 > len(message):
        raise FormatError("truncated question")
    qtype, qclass = struct.unpack("!HH", message[offset : offset + 4])
    return ident, flags, Question(".".join(labels).lower(), qtype, qclass, offset + 4)


def build_answer(query: bytes, rcode: int, addresses: list[str]) -> bytes:
    """The response to ``query``: its first question echoed, then one A record per address."""
    try:
        ident, flags, question = parse_question(query)
    except FormatError:
        ident = struct.unpack("!H", query[:2])[0] if len(query) >= 2 else 0
        return struct.pack("!HHHHHH", ident, 0x8000 | RCODE_FORMERR, 0, 0, 0, 0)
    recursion_desired = flags & 0x0100
    header_flags = 0x8000 | 0x0400 | recursion_desired | 0x0080 | (flags & 0x7800) | rcode
    header = struct.pack("!HHHHHH", ident, header_flags, 1, len(addresses), 0, 0)
    out = bytearray(header + query[12 : question.end])
    for address in addresses:
        # A pointer to the question's name (offset 12), type A, class IN, TTL, 4 bytes.
        out += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4)
        out += ipaddress.IPv4Address(address).packed
    return bytes(out)


class Zone:
    """The cluster's names, read from the agent's Service and EndpointSlice caches."""

    def __init__(
        self,
        services: Callable[[], list[Service]],
        endpoints: ServiceEndpoints,
        domain: str = "cluster.local",
    ) -> None:
        self.services = services
        self.endpoints = endpoints
        self.domain = domain

    def lookup(self, name: str) -> list[str] | None:
        """The A records of ``name``: addresses, [] for a name without any, None if unknown."""
        name = name.rstrip(".").lower()
        suffix = "." + self.domain
        if not name.endswith(suffix):
            return None
        parts = name[: -len(suffix)].split(".")
        if len(parts) == 3 and parts[2] == "pod":
            try:
                return [str(ipaddress.IPv4Address(parts[0].replace("-", ".")))]
            except ValueError:
                return None
        if len(parts) == 3 and parts[2] == "svc":
            return self._service(parts[1], parts[0])
        if len(parts) == 4 and parts[3] == "svc":
            return self._endpoint(parts[2], parts[1], parts[0])
        return None

    def _find(self, namespace: str, name: str) -> Service | None:
        for service in self.services():
            if service.metadata.namespace == namespace and service.metadata.name == name:
                return service
        return None

    def _ready(self, service: Service) -> list[tuple[str, str | None]]:
        return [(b.ip, b.hostname) for b in self.endpoints.of_service(service) if b.ready]

    def _service(self, namespace: str, name: str) -> list[str] | None:
        service = self._find(namespace, name)
        if service is None:
            return None
        if service.spec.type == "ExternalName":
            return []
        if not service.headless:
            return [service.spec.cluster_ip]
        return sorted({address for address, _ in self._ready(service)})

    def _endpoint(self, namespace: str, name: str, host: str) -> list[str] | None:
        service = self._find(namespace, name)
        if service is None:
            return None
        for address, hostname in self._ready(service):
            if host in (hostname, address.replace(".", "-")):
                return [address]
        return None

    def answer(self, query: bytes) -> bytes:
        try:
            _, flags, question = parse_question(query)
        except FormatError:
            return build_answer(query, RCODE_FORMERR, [])
        if flags & 0x7800:  # not a standard query
            return build_answer(query, RCODE_NOTIMP, [])
        addresses = self.lookup(question.name)
        if addresses is None:
            return build_answer(query, RCODE_NXDOMAIN, [])
        if question.qtype != TYPE_A or question.qclass != CLASS_IN:
            return build_answer(query, RCODE_OK, [])
        return build_answer(query, RCODE_OK, addresses)


class DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        if self.transport is None:
            return
        try:
            self.transport.sendto(self.zone.answer(data), addr)
        except Exception:
            log.exception("dns: could not answer a query from %s", addr)
