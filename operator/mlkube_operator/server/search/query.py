"""A search compiled once: the predicate of its filter, its order, the page it asks for.

The stores' search methods (``search_experiments`` ... ``search_model_versions``) build a Query
from the request's filter, order_by and page_token (failing on a bad one before reading
anything, as MLflow does) and run it over their candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from mlkube_operator.server.search import evaluate, paging
from mlkube_operator.server.search.evaluate import AccessorFactory
from mlkube_operator.server.search.grammar import Comparison, OrderBy
from mlkube_operator.server.search.paging import Page

E = TypeVar("E")


@dataclass(frozen=True)
class Query(Generic[E]):
    predicate: Callable[[E], bool]
    orders: Sequence[OrderBy]
    sort_accessors: AccessorFactory[E]
    page_token: str | None

    def run(self, candidates: Iterable[E], max_results: int) -> Page[E]:
        """Filter, order and page ``candidates``."""
        found = [e for e in candidates if self.predicate(e)]
        ordered = evaluate.order(found, self.orders, self.sort_accessors)
        return paging.page(ordered, max_results, self.page_token)


def compile_query(
    comparisons: Sequence[Comparison],
    orders: Sequence[OrderBy],
    page_token: str | None,
    accessors: AccessorFactory[E],
    sort_accessors: AccessorFactory[E] | None = None,
) -> Query[E]:
    """The query; a bad page token is an error here, even when nothing would match."""
    paging.decode_token(page_token)
    predicate = evaluate.compile_filter(comparisons, accessors)
    return Query(predicate, orders, sort_accessors or accessors, page_token)
