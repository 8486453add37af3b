"""The GraphQL fields that do work, each through the REST handler of its twin endpoint.

A root field checks the Need of its REST twin (tracking_routes.py: experiments/get, runs/get,
runs/search, metrics/get-history-bulk-interval), builds the twin's request from its ``input``
(camelCase keys in snake_case) and calls the twin's handler, so both answer the same data and
refuse the same requests. A root field that fails answers MLflow's ``apiError`` (``code``,
``message``) and nothing else: the UI reads its code (RESOURCE_DOES_NOT_EXIST shows "not found";
PERMISSION_DENIED the reason). MLflow's own server leaves ``apiError`` null and reports the
message in ``errors``; the UI reads both, but only ``apiError`` tells a missing run from a
refusal without parsing English. A sampled history honours its input's ``startStep``,
``endStep`` and ``maxResults``, as the REST endpoint does; MLflow's server reads those from the
URL's query string and, through GraphQL, ignores them.

A run's ``experiment`` and ``modelVersions`` are experiments/get and model-versions/search
(``run_id = '<id>'``, as MLflow's server asks) with their own Needs: a caller who may read a run
but not its experiment gets the run's fields and, for ``experiment``, an error in ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from mlkube_operator.server.auth.needs import Need
from mlkube_operator.server.http import experiments, graphql_schema, registry_versions, runs
from mlkube_operator.server.http.call import Call, Services
from mlkube_operator.server.http.failures import failure_of
from mlkube_operator.server.http.fields import Fields
from mlkube_operator.server.http.registry_call import RegistryCall
from mlkube_operator.server.http.registry_routes import REGISTRY_API
from mlkube_operator.server.http.serialize import Json
from mlkube_operator.server.http.tracking_routes import API, Handler
from mlkube_operator.server.store.registry.base import RegistryStore


@dataclass
class Asker:
    """Who asks one GraphQL request, in which workspace; the Needs they were admitted to and the
    experiments already read (a search's runs mostly share one), kept for that request only."""

    workspace: str
    authorization: str | None
    services: Services
    registry: RegistryStore | None
    admitted: set[Need] = field(default_factory=set)
    experiments: dict[str, Json] = field(default_factory=dict)

    def admit(self, need: Need) -> None:
        """Raise MLflow's 401 or 403 error unless the caller may do ``need`` in the workspace."""
        if need in self.admitted:
            return
        guard = self.services.guard
        if not guard.admit_cached(self.authorization, need, self.workspace):
            guard.admit(self.authorization, need, self.workspace)
        self.admitted.add(need)

    def call(self, fields: Mapping[str, Any]) -> Call:
        return Call(self.workspace, Fields(fields), {}, self.services)


def _need(handler: Callable[..., Json], table: list[Any]) -> Need:
    """The Need of ``handler`` in a route table, so that GraphQL cannot drift from REST."""
    needs = {row[2]: row[3] for row in table}
    need = needs[handler]
    assert isinstance(need, Need), f"{handler.__name__} needs several rights"
    return need


def _rest_fields(data: Mapping[str, Any] | None) -> dict[str, Any]:
    return {graphql_schema.snake_case(k): v for k, v in (data or {}).items() if v is not None}


def api_error(code: str, message: str) -> Json:
    return {"api_error": {"code": code, "message": message, "help_url": None}}


def root_field(handler: Handler) -> Callable[..., Json]:
    """A root field answered by ``handler`` (a REST handler) after its Need."""
    need = _need(handler, API)

    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> Json:
        asker: Asker = info.context
        try:
            asker.admit(need)
            return handler(asker.call(_rest_fields(args.get("input"))))
        except Exception as err:
            failure = failure_of(err, f"GraphQL {info.field_name}")
            return api_error(failure.code.value, failure.message)

    return resolve


EXPERIMENT_NEED = _need(experiments.get, API)
VERSIONS_NEED = _need(registry_versions.search_versions, REGISTRY_API)


def run_experiment(run: Json, info: GraphQLResolveInfo) -> Json:
    asker: Asker = info.context
    experiment_id = run["info"]["experiment_id"]
    try:
        if experiment_id not in asker.experiments:
            asker.admit(EXPERIMENT_NEED)
            answer = experiments.get(asker.call({"experiment_id": experiment_id}))
            asker.experiments[experiment_id] = answer["experiment"]
        return asker.experiments[experiment_id]
    except Exception as err:
        raise failure_of(err, "GraphQL experiment of a run") from None


def run_model_versions(run: Json, info: GraphQLResolveInfo) -> list[Json]:
    asker: Asker = info.context
    if asker.registry is None:  # a server without the registry has no versions
        return []
    try:
        asker.admit(VERSIONS_NEED)
        # A run id is 32 hex digits (the store made it): nothing to quote.
        fields = Fields({"filter": f"run_id = '{run['info']['run_id']}'"})
        call = RegistryCall(asker.workspace, fields, asker.services, asker.registry)
        found: list[Json] = registry_versions.search_versions(call)["model_versions"]
        return found
    except Exception as err:
        raise failure_of(err, "GraphQL modelVersions of a run") from None


def schema() -> GraphQLSchema:
    """graphql_schema.py's schema with the resolvers of the fields that do work."""
    built = graphql_schema.build()
    query = built.query_type
    assert query is not None
    for name, handler in (
        ("mlflowGetExperiment", experiments.get),
        ("mlflowGetRun", runs.get),
        ("mlflowSearchRuns", runs.search),
        ("mlflowGetMetricHistoryBulkInterval", runs.metric_history_bulk_interval),
    ):
        query.fields[name].resolve = root_field(handler)
    run = built.type_map["MlflowRunExtension"]
    assert isinstance(run, GraphQLObjectType)
    run.fields["experiment"].resolve = run_experiment
    run.fields["modelVersions"].resolve = run_model_versions
    return built


SCHEMA = schema()
