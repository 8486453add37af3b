"""MLflow-style opaque page tokens: the offset of the next page, checked when it comes back."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from mlkube_operator.server.errors import invalid

E = TypeVar("E")


@dataclass(frozen=True)
class Page(Generic[E]):
    """One page of a search; ``next_page_token`` is None on the last page."""

    items: list[E]
    next_page_token: str | None = None


def page(items: list[E], max_results: int, token: str | None) -> Page[E]:
    """The page of ``items`` that ``token`` points at, ``max_results`` long."""
    offset = decode_token(token)
    end = offset + max_results
    return Page(items[offset:end], encode_token(end) if end < len(items) else None)


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise invalid(f"invalid page_token {token!r}: pass back a next_page_token") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise invalid(f"invalid page_token {token!r}: pass back a next_page_token")
    return offset
