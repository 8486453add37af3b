"""The forwarder of `mlkube ui` (mlkube.ui.forwarder) between a browser and a fake tracking server,
over loopback: who gets through, what the tracking server receives, and bodies streamed each way."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
from typing import Any

from tests.integration.ui.conftest import BIG, WAIT, Running

WORKSPACE = ("X-MLFLOW-WORKSPACE", "team-a")


def get(
    running: Running, path: str, cookie: str | None, **headers: str
) -> tuple[http.client.HTTPResponse, bytes]:
    browser = running.browser()
    if cookie:
        headers["Cookie"] = cookie
    browser.request("GET", path, headers=headers)
    response = browser.getresponse()
    return response, response.read()


def header(record: dict[str, Any], name: str) -> list[str]:
    return [v for n, v in record["headers"] if n.lower() == name.lower()]


def test_a_signed_in_request_reaches_the_server_with_the_users_token_only(
    running: Running,
) -> None:
    browser = running.browser()
    cookie = running.sign_in(browser)
    browser.request(
        "GET",
        "/ajax-api/2.0/mlflow/experiments/search?max_results=5",
        headers={
            "Cookie": f"jupyter=abc; {cookie}",
            "Authorization": "Bearer chosen-by-the-page",
            "Origin": f"http://127.0.0.1:{running.port}",
            "Referer": f"http://127.0.0.1:{running.port}/",
            "Sec-Fetch-Site": "same-origin",
            WORKSPACE[0]: WORKSPACE[1],
        },
    )
    response = browser.getresponse()
    record = json.loads(response.read())
    assert response.status == 200
    assert record["path"] == "/prefix/ajax-api/2.0/mlflow/experiments/search?max_results=5"
    assert header(record, "Authorization") == ["Bearer token-1"]
    assert header(record, WORKSPACE[0]) == [WORKSPACE[1]]
    upstream_host = running.forwarder.upstream.host
    assert header(record, "Host") == [upstream_host]
    for dropped in ("Cookie", "Origin", "Referer", "Sec-Fetch-Site"):
        assert header(record, dropped) == []
    # The tracking server's cookie does not reach the browser; other pages may not frame the UI.
    assert response.getheader("Set-Cookie") is None
    assert response.getheader("X-Frame-Options") == "SAMEORIGIN"


def test_without_the_cookie_nothing_is_forwarded(running: Running) -> None:
    response, body = get(running, "/ajax-api/2.0/mlflow/experiments/search", None)
    assert response.status == 403
    assert b"not signed in" in body
    response, _ = get(running, "/", "mlkube-ui-1=guess")
    assert response.status == 403
    assert running.seen.requests == []


def test_a_foreign_host_or_origin_is_refused_before_the_server(running: Running) -> None:
    cookie = running.sign_in(running.browser())
    for headers in (
        {"Host": "rebound.example"},
        {"Host": f"rebound.example:{running.port}"},
        {"Origin": "http://127.0.0.1:8888"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        response, _ = get(running, "/ajax-api/2.0/mlflow/experiments/search", cookie, **headers)
        assert response.status == 403, headers
    assert running.seen.requests == []


def test_the_link_signs_in_once(running: Running) -> None:
    running.sign_in(running.browser())
    path = running.forwarder.sign_in_url.split(str(running.port), 1)[1]
    response, body = get(running, path, None)
    assert response.status == 403
    assert b"used already" in body


def test_responses_stream_to_the_browser_as_they_come(running: Running) -> None:
    browser = running.browser()
    cookie = running.sign_in(browser)
    browser.request("GET", "/stream", headers={"Cookie": cookie})
    response = browser.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    # The server holds back its second chunk until the first has come out of the forwarder.
    assert response.read1(5) == b"first"
    running.seen.first_chunk_read.set()
    assert response.read() == b"second"
    assert running.seen.streamed == [True]
    # The connection is still good for the next request.
    browser.request("GET", "/status/204", headers={"Cookie": cookie})
    after = browser.getresponse()
    assert after.status == 204
    assert after.read() == b""


def test_request_bodies_stream_to_the_server_as_they_come(running: Running) -> None:
    cookie = running.sign_in(running.browser())
    part = b"p" * 100_000
    with socket.create_connection(("127.0.0.1", running.port), timeout=WAIT) as raw:
        raw.sendall(
            f"PUT /upload HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\nCookie: {cookie}\r\n"
            f"Content-Length: {2 * len(part)}\r\n\r\n".encode()
            + part
        )
        # Only half the body is sent: the server sees it before the browser sends the rest.
        assert running.seen.first_part_arrived.wait(WAIT)
        raw.sendall(part)
        reply = raw.makefile("rb")
        assert reply.readline().startswith(b"HTTP/1.1 200")
    record = running.seen.requests[-1]
    assert record["length"] == 2 * len(part)
    assert record["sha256"] == hashlib.sha256(part + part).hexdigest()


def test_large_bodies_pass_whole_both_ways(running: Running) -> None:
    browser = running.browser()
    cookie = running.sign_in(browser)
    browser.request("GET", "/big", headers={"Cookie": cookie})
    response = browser.getresponse()
    assert response.getheader("Content-Length") == str(BIG)
    assert len(response.read()) == BIG
    payload = bytes(range(256)) * 8192
    browser.request("POST", "/echo", body=payload, headers={"Cookie": cookie})
    record = json.loads(browser.getresponse().read())
    assert record["method"] == "POST"
    assert record["sha256"] == hashlib.sha256(payload).hexdigest()


def test_a_body_that_ends_with_the_connection_is_chunked_for_the_browser(
    running: Running,
) -> None:
    browser = running.browser()
    cookie = running.sign_in(browser)
    browser.request("GET", "/close", headers={"Cookie": cookie})
    response = browser.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read() == b"until the end"
    browser.request("HEAD", "/echo", headers={"Cookie": cookie})
    head = browser.getresponse()
    assert head.status == 200
    assert head.read() == b""


def test_a_connection_the_server_dropped_is_replaced(running: Running) -> None:
    browser = running.browser()
    cookie = running.sign_in(browser)
    browser.request("GET", "/hangup", headers={"Cookie": cookie})
    assert browser.getresponse().read() == b"bye"
    browser.request("GET", "/echo", headers={"Cookie": cookie})
    response = browser.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["path"] == "/prefix/echo"


def test_a_refused_token_is_reported_and_the_next_request_asks_again(running: Running) -> None:
    browser = running.browser()
    cookie = running.sign_in(browser)
    browser.request("GET", "/status/401", headers={"Cookie": cookie})
    assert browser.getresponse().read() == b"{}"
    assert running.tokens.refusals == 1
    browser.request("GET", "/echo", headers={"Cookie": cookie})
    record = json.loads(browser.getresponse().read())
    assert header(record, "Authorization") == ["Bearer token-2"]


def test_without_a_token_or_a_server_the_browser_is_told_why(running: Running) -> None:
    cookie = running.sign_in(running.browser())
    running.tokens.broken = True
    response, body = get(running, "/echo", cookie)
    assert response.status == 502
    assert b"the test broke its tokens" in body
    assert running.seen.requests == []
    running.tokens.broken = False
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        nowhere = free.getsockname()[1]
    original = running.forwarder.upstream
    running.forwarder.upstream = type(original).at(f"http://127.0.0.1:{nowhere}")
    response, body = get(running, "/echo", cookie)
    assert response.status == 502
    assert b"cannot reach the tracking server" in body


def test_malformed_requests_are_refused(running: Running) -> None:
    cookie = running.sign_in(running.browser())
    with socket.create_connection(("127.0.0.1", running.port), timeout=WAIT) as raw:
        raw.sendall(
            f"GET http://evil.example/ HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\n"
            f"Cookie: {cookie}\r\n\r\n".encode()
        )
        assert raw.makefile("rb").readline().startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", running.port), timeout=WAIT) as raw:
        raw.sendall(
            f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{running.port}\r\nCookie: {cookie}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".encode()
        )
        assert raw.makefile("rb").readline().startswith(b"HTTP/1.1 411")
    assert running.seen.requests == []
