"""How much one GraphQL request may ask for, checked on the parsed document before it runs.

GraphQL lets one small request ask for a lot: many root fields or aliases of the same field
(each one a search), selections nested deep, fragments that spread each other many times. The
bounds are MLflow's (mlflow/server/graphql/graphql_no_batching.py, whose root-field and alias
limits are MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS and _MAX_ALIASES, 10 by default), so a query
MLflow's server takes is taken here; the UI's four queries use one root field, no alias and a
depth of 6. On top of them:

- the body is a JSON request like any other (bounds.py's ``max_json_bytes``), and the parser
  stops after ``MAX_TOKENS`` tokens, so a long query costs no more than a short one to refuse;
- one operation per document, one document per request: no batching, neither as a JSON array of
  requests (app.py refuses a body that is not an object) nor as several operations;
- no introspection (``__schema``, ``__type``; ``__typename`` is fine): the UI never asks, the
  schema is the SDL in graphql_schema.py for anyone to read, and refusing it keeps its recursive
  types out of reach. (Its standard query nests deeper than MAX_DEPTH anyway.)

Refusals are GraphQL errors (HTTP 200, ``data`` null), as MLflow's server answers them.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_TOKENS = 10_000
MAX_DEPTH = 10  # selection sets nested in one another, the operation's own being 1
MAX_SELECTIONS = 1_000  # fields and fragments in the whole document, counted where spread
MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10  # aliased fields in one selection set, fragments spread in it included


def _fields_of(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    spread: frozenset[str],
    budget: int,
) -> list[tuple[FieldNode, frozenset[str]]] | None:
    """The fields one selection set selects, with inline fragments and spread fragments opened
    in place, each with the fragments spread on the way to it (a fragment spread inside itself
    is opened once); None once more than ``budget`` selections (fields, fragments) were opened,
    before fragments that spread each other twice over can multiply them."""
    found: list[tuple[FieldNode, frozenset[str]]] = []
    pending = [(node, spread) for node in selections.selections]
    opened = 0
    while pending:
        node, seen = pending.pop()
        opened += 1
        if opened > budget:
            return None
        if isinstance(node, FieldNode):
            found.append((node, seen))
        elif isinstance(node, InlineFragmentNode):
            pending += [(inner, seen) for inner in node.selection_set.selections]
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                inner_seen = seen | {name}
                pending += [(inner, inner_seen) for inner in fragment.selection_set.selections]
    return found


def refusal(document: DocumentNode) -> str | None:
    """Why ``document`` asks for too much, or None when it is within every bound."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return (
            f"a request holds exactly one GraphQL operation, this one has {len(operations)}; "
            "send one query per request"
        )
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    selections = 0
    levels = [(operations[0].selection_set, 1, frozenset[str]())]
    while levels:
        level, depth, spread = levels.pop()
        if depth > MAX_DEPTH:
            return (
                f"a GraphQL query may nest at most {MAX_DEPTH} levels; select fewer nested fields"
            )
        fields = _fields_of(level, fragments, spread, MAX_SELECTIONS - selections)
        if fields is None:
            return (
                f"a GraphQL query may select at most {MAX_SELECTIONS} fields (fragments counted "
                "each time they are spread); ask for fewer"
            )
        aliases = sum(1 for node, _ in fields if node.alias is not None)
        if depth == 1 and len(fields) > MAX_ROOT_FIELDS:
            return (
                f"a GraphQL query may have at most {MAX_ROOT_FIELDS} root fields, this one has "
                f"{len(fields)}; split it into several requests"
            )
        if aliases > MAX_ALIASES:
            return (
                f"a GraphQL selection may alias at most {MAX_ALIASES} fields, this one aliases "
                f"{aliases}; split the query into several requests"
            )
        selections += len(fields)
        levels += [
            (node.selection_set, depth + 1, seen) for node, seen in fields if node.selection_set
        ]
    return None
