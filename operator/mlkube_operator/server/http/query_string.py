"""The query string decoded strictly: its bytes and its percent-escapes must be UTF-8.

Starlette decodes leniently (an invalid escape such as ``%FF`` becomes U+FFFD, raw bytes become
Latin-1 characters), so a mangled name would be looked up or stored instead of refused
(issue 13: invalid Unicode is a 400 at the edge).
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from starlette.requests import Request

from mlkube_operator.server.errors import invalid


def _text(raw: str, what: str) -> str:
    try:
        return unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        raise invalid(
            f"{what} in the query string is not valid UTF-8 once its %-escapes are decoded; "
            "percent-encode the UTF-8 bytes of the text"
        ) from None


def query_of(request: Request) -> dict[str, list[str]]:
    """Every query parameter's values, in order."""
    raw: bytes = request.scope.get("query_string", b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(
            "the query string holds bytes that are not UTF-8; percent-encode its text"
        ) from None
    out: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        name = _text(raw_name, "a parameter name")
        out.setdefault(name, []).append(_text(raw_value, f"the value of {name!r}"))
    return out
