"""How the forwarder rewrites headers, each way.

Towards the tracking server it drops what belongs to one hop (RFC 9110 section 7.6.1) and what
describes the local page rather than the request: the browser's Authorization and cookies (other
programs' cookies for 127.0.0.1 among them, and our session cookie), Origin, Referer and
``Sec-Fetch-*``; then it names the upstream host and adds the user's token. Towards the browser it
drops the hop's headers and ``Set-Cookie`` (this origin's cookies are the forwarder's: an upstream
cookie could replace the session cookie), and keeps other pages from framing the UI.
"""

from __future__ import annotations

from collections.abc import Iterable

Headers = list[tuple[str, str]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# `Expect: 100-continue` was answered by the forwarder itself (http.server does).
NOT_FORWARDED = frozenset({"host", "authorization", "cookie", "origin", "referer", "expect"})
NOT_RETURNED = frozenset({"set-cookie"})
FRAMING = ("X-Frame-Options", "SAMEORIGIN")


def _dropped(headers: Iterable[tuple[str, str]], names: frozenset[str]) -> frozenset[str]:
    """``names``, hop-by-hop headers and those a Connection header names."""
    listed = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return names | HOP_BY_HOP | listed


def upstream_headers(headers: Headers, *, token: str, host: str) -> Headers:
    drop = _dropped(headers, NOT_FORWARDED)
    kept = [
        (name, value)
        for name, value in headers
        if name.lower() not in drop and not name.lower().startswith("sec-fetch-")
    ]
    return [("Host", host), *kept, ("Authorization", f"Bearer {token}")]


def downstream_headers(headers: Headers, *, chunked: bool) -> Headers:
    """``chunked``: the forwarder re-frames a body of unknown length for the browser."""
    drop = _dropped(headers, NOT_RETURNED)
    kept = [(name, value) for name, value in headers if name.lower() not in drop]
    if not any(name.lower() == FRAMING[0].lower() for name, _ in kept):
        kept.append(FRAMING)
    if chunked:
        kept.append(("Transfer-Encoding", "chunked"))
    return kept
