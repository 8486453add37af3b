"""The real server process (uvicorn, memory backend) against clients that send too much or
too slowly (issue 13): its memory while a 300 MiB body streams in, and its read deadlines.

Raw sockets, because the point is what the server does before a request is whole.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
MiB = 1024 * 1024
CREATE = b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: t\r\n"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(*flags: str) -> Iterator[tuple[int, int]]:
    """A tracking server on the memory backend: its (pid, port)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "sdk"), str(ROOT / "operator")])}
    command = [
        sys.executable,
        "-m",
        "mlkube_operator.server.main",
        "--backend",
        "memory",
        "--auth",
        "none",
    ]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning", *flags], env=env
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset ends it too: the
    server closes with unread body bytes, which makes its kernel answer with a reset)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def exchange(port: int, request: bytes) -> bytes:
    with connect(port) as sock:
        sock.sendall(request)
        return sock.recv(65536)


def test_a_300_mib_chunked_body_is_refused_before_the_server_grows_20_mb() -> None:
    with server() as (pid, port):
        warm = exchange(port, CREATE + b'Content-Length: 12\r\n\r\n{"name":"w"}')
        assert warm.startswith(b"HTTP/1.1 200"), warm
        before = peak = rss_mb(pid)
        piece = b"a" * MiB
        sent = 0
        with connect(port) as sock:
            sock.sendall(CREATE + b"Transfer-Encoding: chunked\r\n\r\n")
            try:
                while sent < 300 * MiB and not select.select([sock], [], [], 0)[0]:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                    sent += len(piece)
                    peak = max(peak, rss_mb(pid))
            except OSError:
                pass  # the server answered and closed while the client still sent
            got = answer(sock)
        peak = max(peak, rss_mb(pid))
    assert got.startswith(b"HTTP/1.1 413"), got[:200]
    assert b"RESOURCE_EXHAUSTED" in got
    assert sent < 300 * MiB
    assert peak - before < 20, (before, peak, sent // MiB)


def test_a_declared_length_past_the_limit_is_refused_without_sending_the_body() -> None:
    with server() as (_, port), connect(port) as sock:
        sock.sendall(CREATE + b"Content-Length: 314572800\r\n\r\n")
        got = answer(sock)  # the body is never sent: an answer proves none was awaited
    assert got.startswith(b"HTTP/1.1 413"), got
    assert b"314572800 bytes" in got


@pytest.fixture(scope="module")
def impatient() -> Iterator[int]:
    """A server with short deadlines and small heads: its port."""
    flags = ["--header-timeout", "0.5", "--body-idle-timeout", "0.5", "--max-header-bytes", "4096"]
    with server(*flags) as (_, port):
        yield port


def test_a_head_that_trickles_in_is_answered_408_and_closed(impatient: int) -> None:
    with connect(impatient) as sock:
        for byte in b"GET /health HTTP/1.1\r\nHost":
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.05)
        got = answer(sock)
    assert got.startswith(b"HTTP/1.1 408"), got
    assert b"did not arrive within 0.5 s" in got


def test_a_head_past_its_size_is_answered_431(impatient: int) -> None:
    with connect(impatient) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 5000)
        got = answer(sock)
    assert got.startswith(b"HTTP/1.1 431"), got


def test_a_body_that_stops_is_answered_408_and_closed(impatient: int) -> None:
    with connect(impatient) as sock:
        sock.sendall(CREATE + b'Content-Length: 40\r\n\r\n{"name": ')
        got = answer(sock)
    assert got.startswith(b"HTTP/1.1 408"), got
    assert b"no part of it arrived for 0.5 s" in got


def test_a_kept_alive_connection_gets_the_head_deadline_again(impatient: int) -> None:
    with connect(impatient) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        first = b""
        while not first.endswith(b"\r\n\r\nOK"):
            first += sock.recv(65536)
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # the next head never ends
        rest = answer(sock)
    assert first.startswith(b"HTTP/1.1 200"), first
    assert rest.startswith(b"HTTP/1.1 408"), rest


def test_pipelined_requests_are_all_served(impatient: int) -> None:
    with connect(impatient) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n" * 2 + b"GET /health HTTP/1.1\r\n")
        got = answer(sock)
    assert got.count(b"HTTP/1.1 200") == 2, got
    assert got.endswith(b'within 0.5 s"}'), got
