"""The GraphQL requests MLflow's web UI sends, taken from the installed mlflow's bundle (the pinned
version): the four queries' text and the variables the UI fills in, sent as Apollo Client sends
them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import mlflow
from graphql import (
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

MLFLOW_BUNDLE = Path(mlflow.__file__).parent / "server" / "js" / "build"
# A gql`...` template: the operation and its input type are MLflow's (`$data: MlflowGetRunInput!`).
TEMPLATE = re.compile(r"`(\s*query (\w+)\(\$\w+: Mlflow\w+Input!\)[^`]*)`")
QUERIES = {"MlflowGetExperimentQuery", "GetRun", "SearchRuns", "GetMetricHistoryBulkInterval"}


def bundle_queries() -> dict[str, str]:
    """Each query of the bundle by its operation name, as written in the bundle."""
    found: dict[str, str] = {}
    for script in sorted((MLFLOW_BUNDLE / "static" / "js").glob("*.js")):
        for match in TEMPLATE.finditer(script.read_text(encoding="utf-8")):
            found[match.group(2)] = match.group(1)
    return found


class _Typenames(Visitor):
    def enter_selection_set(
        self, node: SelectionSetNode, _key: Any, parent: Any, *_: Any
    ) -> SelectionSetNode | None:
        if isinstance(parent, OperationDefinitionNode):
            return None
        if any(isinstance(s, FieldNode) and s.name.value == "__typename" for s in node.selections):
            return None
        typename = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())
        return SelectionSetNode(selections=(*node.selections, typename))


def as_apollo_sends(query: str) -> str:
    """``query`` with ``__typename`` in every selection set but the operation's own, as the UI's
    Apollo cache (InMemoryCache, addTypename by default) rewrites it before sending."""
    return print_ast(visit(parse(query), _Typenames()))


def ui_request(name: str, **values: Any) -> dict[str, Any]:
    """The JSON body the UI posts for query ``name``, its variables as the UI fills them in:
    ``experiment_id``; ``run_id``; ``experiment_id`` and ``run_id`` (the run page's search for
    one run, with MLflow's double quotes); ``run_ids``, ``metric_key`` and optional
    ``steps`` = (start, end) (a step chart, 320 points)."""
    variables: dict[str, Any]
    if name == "MlflowGetExperimentQuery":
        variables = {"input": {"experimentId": values["experiment_id"]}}
    elif name == "GetRun":
        variables = {"data": {"runId": values["run_id"]}}
    elif name == "SearchRuns":
        search = f'attributes.run_id = "{values["run_id"]}"'
        variables = {"data": {"filter": search, "experimentIds": [values["experiment_id"]]}}
    else:
        start, end = values.get("steps") or (None, None)
        variables = {
            "data": {
                "runIds": values["run_ids"],
                "metricKey": values["metric_key"],
                "startStep": start,
                "endStep": end,
                "maxResults": 320,
            }
        }
    query = as_apollo_sends(bundle_queries()[name])
    return {"operationName": name, "variables": variables, "query": query}
