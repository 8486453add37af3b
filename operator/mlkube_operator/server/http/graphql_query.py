"""One GraphQL request, from its JSON fields to MLflow's reply: parse (graphql-core), bound
(graphql_limits.py), validate, run (graphql_fields.py's resolvers, in the caller's worker thread:
the stores block).

The reply is MLflow's: ``{"data": ..., "errors": null}`` or, when the query is refused or a
field failed, ``"errors"`` as a list of messages (strings, not GraphQL's ``{message}`` objects,
as MLflow's server writes them), always with HTTP 200. A body that is not a GraphQL request at
all (not a JSON object, no ``query`` string) is refused by the caller as any REST request is.
"""

from __future__ import annotations

from graphql import (
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    execute_sync,
    parse,
    specified_rules,
    validate,
)

from mlkube_operator.server.http import graphql_limits
from mlkube_operator.server.http.fields import Fields
from mlkube_operator.server.http.graphql_fields import SCHEMA, Asker
from mlkube_operator.server.http.graphql_schema import rest_field
from mlkube_operator.server.http.serialize import Json

RULES = (*specified_rules, NoSchemaIntrospectionCustomRule)


def _refused(message: str) -> Json:
    return {"data": None, "errors": [message]}


def answer(request: Fields, asker: Asker) -> Json:
    """MLflow's reply to the GraphQL request ``request`` (``query``, ``variables``,
    ``operationName``) asked by ``asker``; raises MlflowError for a request that is not one."""
    query = request.required_string("query")
    variables = request.message("variables")
    operation = request.string("operationName")
    try:
        document = parse(query, no_location=True, max_tokens=graphql_limits.MAX_TOKENS)
    except GraphQLError as err:
        return _refused(err.message)
    refusal = graphql_limits.refusal(document)
    if refusal is not None:
        return _refused(refusal)
    invalid = validate(SCHEMA, document, RULES)
    if invalid:
        return {"data": None, "errors": [err.message for err in invalid]}
    result = execute_sync(
        SCHEMA,
        document,
        context_value=asker,
        variable_values=dict(variables.data) if variables is not None else None,
        operation_name=operation,
        field_resolver=rest_field,
    )
    errors = [err.message for err in result.errors] if result.errors else None
    return {"data": result.data, "errors": errors}
