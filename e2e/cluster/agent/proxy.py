"""The service proxy (kube-proxy's job) and the cluster DNS server, on one asyncio loop.

For every Service with a ClusterIP, and each of its TCP ports, the agent listens on
``<clusterIP>:<port>`` (ClusterIPs come from a loopback range, so they are local addresses) while
the Service has ready endpoints (see ``endpoints``), and forwards each connection to one of them,
round robin. Without ready endpoints nothing listens, so a client gets "connection refused", as
kube-proxy's REJECT rule gives. NodePort Services also listen on ``<nodeIP>:<nodePort>``. The
``kubernetes`` Service forwards to the API server. UDP Services and session affinity are not
supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from e2e.cluster.agent.dns import DnsProtocol, Zone
from e2e.cluster.agent.endpoints import Backend, ServiceEndpoints, usable
from e2e.cluster.agent.model import Service

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Frontend:
    """An address the proxy listens on, for one port of one Service."""

    ip: str
    port: int
    namespace: str
    service: str
    port_name: str


def frontends(services: list[Service], node_ip: str) -> list[Frontend]:
    out = []
    for service in services:
        if service.headless or service.spec.type == "ExternalName":
            continue
        meta = service.metadata
        for port in service.spec.ports:
            if port.protocol != "TCP":
                continue
            out.append(
                Frontend(service.spec.cluster_ip, port.port, meta.namespace, meta.name, port.name)
            )
            if port.node_port and service.spec.type in ("NodePort", "LoadBalancer"):
                out.append(Frontend(node_ip, port.node_port, meta.namespace, meta.name, port.name))
    return out


class Network:
    """Owns the asyncio loop thread that serves Service traffic and DNS."""

    def __init__(
        self,
        services: Callable[[], list[Service]],
        endpoints: ServiceEndpoints,
        *,
        node_ip: str,
        dns_ip: str,
        dns_port: int = 53,
        domain: str = "cluster.local",
    ) -> None:
        self.services = services
        self.endpoints = endpoints
        self.node_ip = node_ip
        self.dns = (dns_ip, dns_port)
        self.zone = Zone(services, endpoints, domain)
        self.loop = asyncio.new_event_loop()
        self._servers: dict[Frontend, asyncio.Server] = {}
        self._turns: dict[Frontend, itertools.count[int]] = {}
        self._failed: set[Frontend] = set()
        self._dns_transport: asyncio.DatagramTransport | None = None
        self._dirty = False
        self._syncing: asyncio.Task[None] | None = None
        self.ready = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="network", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the network loop did not start")
        if self.error is not None:
            raise RuntimeError(f"cluster DNS on {self.dns[0]}:{self.dns[1]}: {self.error}")

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    def refresh(self) -> None:
        """Re-read Services and endpoints (call on every change: bursts are coalesced)."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self._request_sync)

    def _request_sync(self) -> None:
        self._dirty = True
        # One sync at a time: two would both see a listener missing and both try to bind it.
        if self._syncing is None or self._syncing.done():
            self._syncing = self.loop.create_task(self._sync_until_clean())

    async def _sync_until_clean(self) -> None:
        while self._dirty:
            self._dirty = False
            await self._sync()

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start_dns())
        except Exception as err:  # reported by start()
            self.error = err
            self.ready.set()
            self.loop.close()
            return
        self.loop.call_soon(self.ready.set)
        self.loop.run_forever()
        self.loop.close()

    async def _start_dns(self) -> None:
        transport, _ = await self.loop.create_datagram_endpoint(
            lambda: DnsProtocol(self.zone), local_addr=self.dns
        )
        self._dns_transport = transport

    async def _close(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        if self._dns_transport is not None:
            self._dns_transport.close()

    def _backends(self, frontend: Frontend) -> list[Backend]:
        for service in self.services():
            meta = service.metadata
            if meta.namespace == frontend.namespace and meta.name == frontend.service:
                for port in service.spec.ports:
                    if port.name == frontend.port_name and port.protocol == "TCP":
                        return usable(self.endpoints.of_port(service, port))
        return []

    async def _sync(self) -> None:
        wanted = {f for f in frontends(self.services(), self.node_ip) if self._backends(f)}
        for frontend in list(self._servers):
            if frontend not in wanted:
                self._servers.pop(frontend).close()
                self._turns.pop(frontend, None)
        self._failed &= wanted
        for frontend in wanted - set(self._servers):
            try:
                self._servers[frontend] = await asyncio.start_server(
                    functools.partial(self._forward, frontend),
                    frontend.ip,
                    frontend.port,
                    reuse_address=True,
                    family=socket.AF_INET,
                )
                self._failed.discard(frontend)
            except OSError as err:
                if frontend not in self._failed:
                    log.error(
                        "service %s/%s: cannot listen on %s:%d: %s",
                        frontend.namespace,
                        frontend.service,
                        frontend.ip,
                        frontend.port,
                        err,
                    )
                    self._failed.add(frontend)

    async def _forward(
        self, frontend: Frontend, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        targets = sorted((b.ip, b.port) for b in self._backends(frontend))
        upstream_w: asyncio.StreamWriter | None = None
        try:
            if not targets:
                return
            turn = next(self._turns.setdefault(frontend, itertools.count()))
            host, port = targets[turn % len(targets)]
            upstream_r, upstream = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT
            )
            upstream_w = upstream
            await asyncio.gather(_pipe(client_r, upstream), _pipe(upstream_r, client_w))
        except (OSError, TimeoutError) as err:
            log.debug("service %s/%s: %s", frontend.namespace, frontend.service, err)
        finally:
            for writer in (client_w, upstream_w):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(OSError, asyncio.CancelledError):
                        await writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()
