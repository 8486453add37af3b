"""Integration tests of `mlkube ui` on this machine's loopback: the forwarder (in-process, and as
the `mlkube ui` process) in front of a fake tracking server, and the kubeconfig's tokens.

Boundary: no cluster. The fake tracking server is a real HTTP server on 127.0.0.1 that records
what reaches it and can stream; the browser is http.client speaking raw HTTP; kubeconfigs and an
exec credential plugin (a Python script) are written to tmp_path. Every server started here is
stopped, and every wait is bounded.
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlkube.ui.forwarder import Forwarder, Upstream

WAIT = 20.0
BIG = 3 * 1024 * 1024 + 17


@dataclass
class Seen:
    """What reached the fake tracking server."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    first_chunk_read: threading.Event = field(default_factory=threading.Event)
    streamed: list[bool] = field(default_factory=list)
    first_part_arrived: threading.Event = field(default_factory=threading.Event)


class FakeTracking(http.server.BaseHTTPRequestHandler):
    """`/stream` answers in two chunks and waits, between them, for the test to have read the
    first through the forwarder; `/upload` tells when the first part of a body has arrived;
    `/big` answers BIG bytes; `/close` answers without a length and closes; `/hangup` answers
    but closes the connection without saying so (a server dropping an idle keep-alive);
    `/status/<n>` answers n; anything else echoes the request as JSON."""

    protocol_version = "HTTP/1.1"
    server: Any

    def handle_one(self) -> None:
        seen: Seen = self.server.seen
        body = self._body()
        record = {
            "method": self.command,
            "path": self.path,
            "headers": list(self.headers.items()),
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        seen.requests.append(record)
        route = self.path.split("?")[0].removeprefix("/prefix")
        if route == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            seen.streamed.append(seen.first_chunk_read.wait(WAIT))
            self.wfile.write(b"6\r\nsecond\r\n0\r\n\r\n")
            return
        if route == "/big":
            self._answer(200, bytes(range(256)) * (BIG // 256) + b"x" * (BIG % 256))
            return
        if route == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
            return
        if route == "/hangup":
            self._answer(200, b"bye")
            self.close_connection = True
            return
        if route.startswith("/status/"):
            self._answer(int(route.rsplit("/", 1)[1]), b"{}")
            return
        self._answer(200, json.dumps(record).encode(), (("Set-Cookie", "upstream=1; Path=/"),))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = handle_one

    def _body(self) -> bytes:
        remaining = int(self.headers.get("Content-Length") or 0)
        parts = []
        while remaining:
            part = self.rfile.read1(min(remaining, 65536))  # type: ignore[attr-defined]
            if not part:
                break
            parts.append(part)
            remaining -= len(part)
            if self.path.startswith("/prefix/upload"):
                self.server.seen.first_part_arrived.set()
        return b"".join(parts)

    def _answer(self, status: int, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_tracking() -> Iterator[tuple[str, Seen]]:
    """The fake tracking server's URL and what reached it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeTracking)
    server.daemon_threads = True
    server.seen = Seen()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.seen.first_chunk_read.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


class Tokens:
    """Credentials that count: token-1, token-2, ... after each refusal; or none at all."""

    what = "the test's tokens"

    def __init__(self) -> None:
        self.issued = 1
        self.refusals = 0
        self.broken = False

    def token(self) -> str:
        from mlkube.auth import CredentialError

        if self.broken:
            raise CredentialError("the test broke its tokens")
        return f"token-{self.issued}"

    def refused(self) -> None:
        self.refusals += 1
        self.issued += 1


@dataclass
class Running:
    forwarder: Forwarder
    tokens: Tokens
    seen: Seen

    @property
    def port(self) -> int:
        return int(self.forwarder.server_address[1])

    def browser(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)

    def sign_in(self, browser: http.client.HTTPConnection) -> str:
        """The session cookie, from the sign-in link (spent by this)."""
        browser.request("GET", self.forwarder.sign_in_url.split(str(self.port), 1)[1])
        response = browser.getresponse()
        response.read()
        assert response.status == 200
        return str(response.getheader("Set-Cookie")).split(";")[0]


@pytest.fixture
def running(fake_tracking: tuple[str, Seen]) -> Iterator[Running]:
    """A forwarder in this process in front of the fake server's /prefix."""
    url, seen = fake_tracking
    tokens = Tokens()
    forwarder = Forwarder(Upstream.at(url + "/prefix/"), tokens)
    thread = threading.Thread(target=forwarder.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(forwarder, tokens, seen)
    finally:
        forwarder.shutdown()
        forwarder.server_close()
        thread.join(WAIT)
