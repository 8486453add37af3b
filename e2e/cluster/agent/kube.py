"""A small typed client of the Kubernetes REST API: the agent's only way to the API server.

urllib3 over TLS with the node's client certificate (from a kubeconfig of paths, as the harness
writes them). JSON in and out; typed models are built by the callers in ``api``. Every request
has a timeout; a watch is a streamed GET ended by the server after ``timeoutSeconds``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
import yaml

log = logging.getLogger(__name__)

JSON = dict[str, Any]


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the HTTP code, ``reason`` the Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ClientConfig:
    server: str
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_kubeconfig(cls, path: Path) -> ClientConfig:
        config = yaml.safe_load(path.read_text())
        context_name = config["current-context"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        return cls(
            server=cluster["server"].rstrip("/"),
            ca=Path(cluster["certificate-authority"]),
            cert=Path(user["client-certificate"]),
            key=Path(user["client-key"]),
        )


class Client:
    def __init__(self, config: ClientConfig, *, user_agent: str = "mlkube-node-agent") -> None:
        self.server = config.server
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=16,
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(config.ca),
            cert_file=str(config.cert),
            key_file=str(config.key),
            retries=False,
        )
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str | int] | None = None,
        body: object = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> JSON:
        url = self.server + path + (f"?{urlencode(query)}" if query else "")
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            response = self._pool.request(
                method, url, body=data, headers=headers, timeout=urllib3.Timeout(timeout)
            )
        except urllib3.exceptions.HTTPError as err:
            raise ApiError(0, "ConnectionError", str(err)) from err
        payload = _decode(response.data)
        if response.status >= 300:
            raise ApiError(
                response.status,
                str(payload.get("reason", "")),
                str(payload.get("message", response.data[:200])),
            )
        return payload

    def get(self, path: str, **query: str | int) -> JSON:
        return self.request("GET", path, query=query or None)

    def create(self, path: str, body: object) -> JSON:
        return self.request("POST", path, body=body)

    def merge_patch(self, path: str, body: object) -> JSON:
        return self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def strategic_patch(self, path: str, body: object) -> JSON:
        return self.request(
            "PATCH", path, body=body, content_type="application/strategic-merge-patch+json"
        )

    def replace(self, path: str, body: object) -> JSON:
        return self.request("PUT", path, body=body)

    def delete(self, path: str, body: object = None) -> JSON:
        return self.request("DELETE", path, body=body)

    def list_all(self, path: str, **query: str | int) -> tuple[list[JSON], str]:
        """Every item of a collection (paged) and the list's resourceVersion."""
        items: list[JSON] = []
        cont = ""
        while True:
            page_query: dict[str, str | int] = {**query, "limit": 500}
            if cont:
                page_query["continue"] = cont
            page = self.request("GET", path, query=page_query, timeout=60)
            items.extend(page.get("items") or [])
            meta = page.get("metadata", {})
            cont = meta.get("continue", "")
            if not cont:
                return items, str(meta.get("resourceVersion", ""))

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int, **query: str | int
    ) -> Iterator[JSON]:
        """Watch events (``{"type": ..., "object": ...}``) until the server ends the watch."""
        url = (
            self.server
            + path
            + "?"
            + urlencode(
                {
                    **query,
                    "watch": "true",
                    "resourceVersion": resource_version,
                    "allowWatchBookmarks": "true",
                    "timeoutSeconds": timeout_seconds,
                }
            )
        )
        try:
            response = self._pool.request(
                "GET",
                url,
                headers=self._headers,
                preload_content=False,
                timeout=urllib3.Timeout(connect=10, read=timeout_seconds + 30),
            )
        except urllib3.exceptions.HTTPError as err:
            raise ApiError(0, "ConnectionError", str(err)) from err
        try:
            if response.status >= 300:
                payload = _decode(response.read())
                raise ApiError(
                    response.status, str(payload.get("reason", "")), str(payload.get("message", ""))
                )
            buffer = b""
            for chunk in response.stream(65536, decode_content=True):
                buffer += chunk
                while (newline := buffer.find(b"\n")) != -1:
                    line, buffer = buffer[:newline], buffer[newline + 1 :]
                    if line.strip():
                        yield json.loads(line)
        except urllib3.exceptions.HTTPError as err:
            raise ApiError(0, "ConnectionError", str(err)) from err
        finally:
            response.release_conn()


def _decode(data: bytes) -> JSON:
    if not data:
        return {}
    try:
        decoded = json.loads(data)
    except ValueError:
        return {"message": data[:500].decode(errors="replace")}
    return decoded if isinstance(decoded, dict) else {"items": decoded}
