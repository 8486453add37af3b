"""The local forwarder of ``mlkube ui``: an HTTP server on 127.0.0.1 that passes the browser's
requests to the tracking server with the user's bearer token.

The tracking server serves MLflow's UI bundle without a token, but every API call the pages make
needs one, and a browser has none to send. So the browser talks to this forwarder, which lets in
only this session's browser (gate.py) and adds ``Authorization: Bearer <token>`` to what it passes
on (headers.py). Bodies are streamed both ways in pieces of ``CHUNK`` bytes, never held whole (an
artifact may be gigabytes). The standard library's threaded server keeps the SDK's dependencies as
they are; a browser opens a handful of connections, each served by a thread, each with at most
one connection to the tracking server.
"""

from __future__ import annotations

import http.client
import http.server
import logging
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from mlkube.auth import CredentialError
from mlkube.ui import peers
from mlkube.ui.gate import Forward, Gate, Refuse, Request, SignIn
from mlkube.ui.headers import downstream_headers, upstream_headers
from mlkube.ui.tokens import Credentials

log = logging.getLogger("mlkube.ui")

CHUNK = 64 * 1024
# Seconds a browser's connection may sit idle (or a body stall) before it is closed.
IDLE_TIMEOUT = 120.0
# Seconds each connect, send or read towards the tracking server may take.
UPSTREAM_TIMEOUT = 120.0
# An upstream connection idle this long is not reused: servers close idle keep-alive connections
# after a few seconds (uvicorn: 5), and a request sent as one closes fails.
REUSE_WITHIN = 4.0
SIGN_IN_PAGE = (
    b'<!doctype html><meta charset="utf-8"><title>mlkube ui</title>'
    b'<script>location.replace("/")</script>'
    b'<noscript>Signed in; MLflow\'s UI needs JavaScript: <a href="/">open it</a>.</noscript>'
)


class _BrowserGone(Exception):
    """The browser stopped sending a request body (closed, or stalled past IDLE_TIMEOUT)."""


class _Unacceptable(Exception):
    """A request the forwarder will not pass on, whoever sends it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upstream:
    """The tracking server: ``connect(timeout)`` makes a new connection to it, ``host`` is the
    Host header it is sent, ``prefix`` the path it is served under ("" or "/some/path")."""

    connect: Callable[[float], http.client.HTTPConnection]
    host: str
    prefix: str = ""

    @classmethod
    def at(cls, url: str) -> Upstream:
        """The server at an http(s) URL; https is verified against the system's CAs."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected the tracking server's http(s) URL, got {url!r}")
        if parts.query or parts.fragment or parts.username:
            raise ValueError(f"the tracking server's URL takes no query, fragment or user: {url!r}")
        host, port = parts.hostname, parts.port

        def connect(timeout: float) -> http.client.HTTPConnection:
            if parts.scheme == "https":
                context = ssl.create_default_context()
                return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
            return http.client.HTTPConnection(host, port, timeout=timeout)

        return cls(connect, parts.netloc, parts.path.rstrip("/"))


class Forwarder(http.server.ThreadingHTTPServer):
    """Serves one session on 127.0.0.1:``port`` (0: any free port) until ``shutdown()``."""

    daemon_threads = True

    def __init__(self, upstream: Upstream, credentials: Credentials, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream = upstream
        self.credentials = credentials
        self.gate = Gate(self.server_address[1])

    @property
    def sign_in_url(self) -> str:
        return self.gate.sign_in_url

    def verify_request(self, request: Any, client_address: Any) -> bool:
        host, port = self.server_address[:2]
        if peers.admitted(client_address, (str(host), port)):
            return True
        log.warning("closed a connection from %s: its socket is another user's", client_address)
        return False


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    _upstream: http.client.HTTPConnection | None = None
    _upstream_used = 0.0

    @property
    def forwarder(self) -> Forwarder:
        return cast(Forwarder, self.server)

    def handle_one(self) -> None:
        verdict = self.forwarder.gate.judge(
            Request(
                target=self.path,
                hosts=tuple(self.headers.get_all("Host") or ()),
                cookie="; ".join(self.headers.get_all("Cookie") or ()),
                origin=self.headers.get("Origin"),
                fetch_site=self.headers.get("Sec-Fetch-Site"),
            )
        )
        if isinstance(verdict, Refuse):
            log.warning("refused %s %s: %s", self.command, self.path[:80], verdict.message)
            self._reply(verdict.status, verdict.message)
        elif isinstance(verdict, SignIn):
            cookie = [("Set-Cookie", verdict.set_cookie)] if verdict.set_cookie else []
            self._reply(200, SIGN_IN_PAGE, "text/html; charset=utf-8", cookie)
        elif isinstance(verdict, Forward):
            self._forward()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_one

    def _forward(self) -> None:
        try:
            length = self._body_length()
        except _Unacceptable as err:
            self._reply(err.status, str(err))
            return
        try:
            token = self.forwarder.credentials.token()
        except CredentialError as err:
            self._reply(502, f"mlkube ui has no token for the tracking server: {err}")
            return
        upstream = self.forwarder.upstream
        headers = upstream_headers(list(self.headers.items()), token=token, host=upstream.host)
        try:
            response = self._exchange(upstream.prefix + self.path, headers, length)
        except _BrowserGone:
            self.close_connection = True
            return
        except TimeoutError:
            self._reply(504, "the tracking server did not answer in time")
            return
        except (OSError, http.client.HTTPException) as err:
            self._reply(502, f"cannot reach the tracking server: {err or type(err).__name__}")
            return
        if response.status == 401:
            self.forwarder.credentials.refused()
        self._relay(response)

    def _body_length(self) -> int:
        """The request body's length. Chunked uploads are refused (411): browsers send a length."""
        if self.headers.get_all("Transfer-Encoding"):
            raise _Unacceptable(411, "send the request body with a Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return 0
        if len(lengths) > 1 or not lengths[0].strip().isdigit():
            raise _Unacceptable(400, "malformed Content-Length")
        return int(lengths[0])

    def _exchange(
        self, url: str, headers: list[tuple[str, str]], length: int
    ) -> http.client.HTTPResponse:
        """Send the request (streaming its body) and read the response's head. A request without
        a body is sent once more on a new connection when a reused one turns out to be closed."""
        while True:
            reused = self._upstream is not None
            connection = self._connection()
            try:
                connection.putrequest(self.command, url, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                connection.endheaders()
                self._send_body(connection, length)
                return connection.getresponse()
            except _BrowserGone:
                self._drop_upstream()  # it holds half a request
                raise
            except (OSError, http.client.HTTPException) as err:
                self._drop_upstream()
                if reused and not length and isinstance(err, ConnectionError):
                    continue
                raise

    def _connection(self) -> http.client.HTTPConnection:
        now = time.monotonic()
        if self._upstream is not None and now - self._upstream_used > REUSE_WITHIN:
            self._drop_upstream()
        if self._upstream is None:
            self._upstream = self.forwarder.upstream.connect(UPSTREAM_TIMEOUT)
        self._upstream_used = now
        return self._upstream

    def _send_body(self, connection: http.client.HTTPConnection, length: int) -> None:
        remaining = length
        while remaining:
            try:
                piece = self.rfile.read1(min(CHUNK, remaining))
            except OSError:
                piece = b""
            if not piece:
                raise _BrowserGone
            connection.send(piece)
            remaining -= len(piece)

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """The response's head, then its body as it arrives."""
        has_body = self.command != "HEAD" and response.status not in (204, 304)
        sized = response.getheader("Content-Length") is not None
        chunked = has_body and not sized and self.request_version == "HTTP/1.1"
        self.send_response_only(response.status, response.reason)
        for name, value in downstream_headers(response.getheaders(), chunked=chunked):
            self.send_header(name, value)
        if has_body and not sized and not chunked:
            self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        try:
            while has_body and (piece := response.read1(CHUNK)):
                self.wfile.write(b"%X\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            # Nothing is left, but only read() marks the response done (read1 does not, at the end
            # of a Content-Length), and http.client sends no next request before.
            response.read()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            # The head is sent: all that is left to say is to close the connection early.
            self.close_connection = True
            self._drop_upstream()
            return
        if response.will_close:
            self._drop_upstream()

    def _reply(
        self,
        status: int,
        body: str | bytes,
        content_type: str = "text/plain; charset=utf-8",
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        """An answer of the forwarder's own."""
        data = body.encode() if isinstance(body, str) else body
        if self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length", "0") != "0":
            self.close_connection = True  # its body, if any, was not read
        self.send_response_only(status)
        for name, value in [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            *(extra or []),
        ]:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop_upstream(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None

    def finish(self) -> None:
        self._drop_upstream()
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)
