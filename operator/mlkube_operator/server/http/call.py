"""What a handler gets: the request's workspace, fields and path parameters, and the stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from mlkube.layout import EXPERIMENT_ID
from mlkube.objects import ObjectStore
from mlkube.sources import S3Prefix
from mlkube_operator.server.auth.guard import Guard
from mlkube_operator.server.errors import invalid
from mlkube_operator.server.http.bounds import Bounds
from mlkube_operator.server.http.fields import Fields
from mlkube_operator.server.http.part_urls import PartSigner
from mlkube_operator.server.limits import check_key, check_length, truncated
from mlkube_operator.server.served import Served
from mlkube_operator.server.store.tracking.base import TrackingStore


@dataclass(frozen=True)
class Services:
    """Everything handlers use, built once at startup (settings.py, main.py)."""

    store: TrackingStore
    objects: ObjectStore
    default_workspace: str
    version: str
    guard: Guard  # who may do what (auth/guard.py); SingleUser only by explicit setting
    bounds: Bounds = field(default_factory=Bounds)
    # What model versions may be registered from besides their workspace's prefix of
    # ``objects.bucket`` (mlkube.sources; the operator applies the same rule).
    source_allowlist: tuple[S3Prefix, ...] = ()
    # The namespaces this server serves (MLKUBE_WATCH_NAMESPACES); others are refused.
    served: Served = field(default_factory=Served)
    # Signs the part URLs of multipart uploads (part_urls.py).
    part_signer: PartSigner = field(default_factory=PartSigner)


@dataclass(frozen=True)
class Call:
    workspace: str
    fields: Fields
    path: dict[str, str]
    services: Services

    @property
    def store(self) -> TrackingStore:
        return self.services.store


def checked_tags(
    pairs: list[tuple[str, str]], value_limit: int, *, truncate: bool = False
) -> dict[str, str]:
    """Tags with checked keys; values past ``value_limit`` are an error, or cut to it when
    ``truncate`` (run tags, as MLflow does)."""
    tags: dict[str, str] = {}
    for key, raw in pairs:
        check_key("tag", key)
        value = truncated(raw, value_limit) if truncate else raw
        check_length(f"value of tag {key!r}", value, value_limit)
        tags[key] = value
    return tags


def positive_max_results(value: int | None, default: int, limit: int) -> int:
    if value is None:
        return default
    if value <= 0 or value > limit:
        raise invalid(f"max_results must be between 1 and {limit}, got {value}")
    return value


def experiment_ids(fields: Fields, limit: int) -> list[str]:
    """``experiment_ids``: at least one experiment id and at most ``limit``, each a number."""
    ids = fields.strings("experiment_ids")
    if not ids:
        raise invalid("parameter 'experiment_ids' must name at least one experiment")
    if len(ids) > limit:
        raise invalid(
            f"parameter 'experiment_ids' may name at most {limit} experiments, got {len(ids)}; "
            "ask for fewer per request"
        )
    for value in ids:
        if not EXPERIMENT_ID.fullmatch(value):
            raise invalid(
                f"parameter 'experiment_ids' holds {value[:80]!r}, which is not an experiment id "
                "(a number)"
            )
    return ids


class SearchArgs(TypedDict):
    """A search request's paging and filtering fields, as the stores' search methods take them."""

    filter_string: str | None
    order_by: list[str]
    max_results: int
    page_token: str | None


def search_args(fields: Fields, default: int, limit: int) -> SearchArgs:
    """The fields every search endpoint reads; ``max_results`` checked against ``limit``."""
    return SearchArgs(
        max_results=positive_max_results(fields.integer("max_results"), default, limit),
        filter_string=fields.string("filter"),
        order_by=fields.strings("order_by"),
        page_token=fields.string("page_token"),
    )
