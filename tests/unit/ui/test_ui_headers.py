"""Header rewriting of the forwarder (mlkube.ui.headers)."""

from __future__ import annotations

from mlkube.ui.headers import downstream_headers, upstream_headers


def names(headers: list[tuple[str, str]]) -> list[str]:
    return [name.lower() for name, _ in headers]


def test_upstream_gets_the_users_token_and_not_the_browsers_credentials() -> None:
    browser = [
        ("Host", "127.0.0.1:5555"),
        ("Authorization", "Bearer from-the-page"),
        ("Cookie", "mlkube-ui-5555=session; jupyter=secret"),
        ("cookie", "more"),
        ("Origin", "http://127.0.0.1:5555"),
        ("Referer", "http://127.0.0.1:5555/#/experiments"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Mode", "cors"),
        ("Proxy-Authorization", "Basic x"),
        ("X-MLFLOW-WORKSPACE", "team-a"),
        ("Content-Type", "application/json"),
        ("Content-Length", "12"),
        ("Accept-Encoding", "gzip"),
    ]
    out = upstream_headers(browser, token="the-token", host="mlkube-server.mlkube-system.svc")
    assert out == [
        ("Host", "mlkube-server.mlkube-system.svc"),
        ("X-MLFLOW-WORKSPACE", "team-a"),
        ("Content-Type", "application/json"),
        ("Content-Length", "12"),
        ("Accept-Encoding", "gzip"),
        ("Authorization", "Bearer the-token"),
    ]


def test_hop_by_hop_headers_stay_on_their_hop() -> None:
    browser = [
        ("Connection", "keep-alive, X-Private"),
        ("Keep-Alive", "timeout=5"),
        ("X-Private", "for this hop only"),
        ("Upgrade", "websocket"),
        ("TE", "trailers"),
        ("Transfer-Encoding", "chunked"),
        ("Expect", "100-continue"),
        ("Accept", "*/*"),
    ]
    out = upstream_headers(browser, token="t", host="h")
    assert names(out) == ["host", "accept", "authorization"]


def test_the_browser_gets_no_cookie_from_upstream_and_the_ui_is_not_framed_elsewhere() -> None:
    upstream = [
        ("Content-Type", "text/html"),
        ("Content-Length", "10"),
        ("Set-Cookie", "mlkube-ui-5555=replaced"),
        ("set-cookie", "other=1"),
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("ETag", '"abc"'),
    ]
    out = downstream_headers(upstream, chunked=False)
    assert out == [
        ("Content-Type", "text/html"),
        ("Content-Length", "10"),
        ("ETag", '"abc"'),
        ("X-Frame-Options", "SAMEORIGIN"),
    ]


def test_upstreams_own_framing_rule_stands_and_a_body_of_unknown_length_is_chunked() -> None:
    upstream = [("X-Frame-Options", "DENY"), ("Transfer-Encoding", "chunked")]
    out = downstream_headers(upstream, chunked=True)
    assert out == [("X-Frame-Options", "DENY"), ("Transfer-Encoding", "chunked")]
