"""The GraphQL schema MLflow's web UI queries (issue 14); how its fields read MLflow's REST JSON.

MLflow 3.17.2's UI bundle sends four queries to ``/graphql``: ``MlflowGetExperimentQuery``,
``GetRun``, ``SearchRuns`` and ``GetMetricHistoryBulkInterval``. The SDL below holds exactly the
fields they select (tests/unit/tracking/test_tracking_graphql.py checks that against the bundle),
under MLflow's type names, which the UI's cache keys and ``__typename`` show; the inputs are the
REST requests of the same four endpoints. Every value is the REST endpoint's answer
(graphql_fields.py calls the REST handlers), read field by field as MLflow's server reads its
protobuf messages:

- a camelCase field is the REST field of the same name in snake_case;
- 64-bit integers are ``LongString``: written as strings, which JavaScript reads without losing
  precision past 2^53;
- a field the REST answer leaves out reads as protobuf's default for its type: ``""``, ``"0"``,
  ``0``, ``false``, an empty list (MLflow answers ``endTime: "0"`` for a running run); a message
  left out stays null, and so does every field beside an ``apiError``;
- a double that is not finite, which GraphQL's ``Float`` cannot carry, is null (MLflow's own
  server makes NaN null in a run's metrics, and fails the whole reply on NaN in a sampled history;
  mlkube nulls both, so one NaN does not blank the UI's charts).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from graphql import (
    GraphQLFloat,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
)

SDL = """
"Identifies the UI component that sent a query (MLflow keeps it for Databricks' servers)."
directive @component(name: String!) on QUERY | MUTATION

"A 64-bit integer written as a string, which JavaScript reads without losing precision."
scalar LongString

schema {
  query: Query
}

type Query {
  mlflowGetExperiment(input: MlflowGetExperimentInput): MlflowGetExperimentResponse
  mlflowGetRun(input: MlflowGetRunInput): MlflowGetRunResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  mlflowGetMetricHistoryBulkInterval(
    input: MlflowGetMetricHistoryBulkIntervalInput
  ): MlflowGetMetricHistoryBulkIntervalResponse
}

input MlflowGetExperimentInput {
  experimentId: String
}

input MlflowGetRunInput {
  runId: String
  runUuid: String
}

input MlflowSearchRunsInput {
  experimentIds: [String]
  filter: String
  runViewType: MlflowViewType
  maxResults: Int
  orderBy: [String]
  pageToken: String
}

input MlflowGetMetricHistoryBulkIntervalInput {
  runIds: [String]
  metricKey: String
  startStep: Int
  endStep: Int
  maxResults: Int
}

enum MlflowViewType {
  ACTIVE_ONLY
  DELETED_ONLY
  ALL
}

enum MlflowRunStatus {
  RUNNING
  SCHEDULED
  FINISHED
  FAILED
  KILLED
}

enum MlflowModelVersionStatus {
  PENDING_REGISTRATION
  FAILED_REGISTRATION
  READY
}

"Why a root field has no answer: MLflow's error code (RESOURCE_DOES_NOT_EXIST, ...) and message."
type ApiError {
  code: String
  message: String
  helpUrl: String
}

type MlflowGetExperimentResponse {
  experiment: MlflowExperiment
  apiError: ApiError
}

type MlflowGetRunResponse {
  run: MlflowRunExtension
  apiError: ApiError
}

type MlflowSearchRunsResponse {
  runs: [MlflowRunExtension!]
  apiError: ApiError
}

type MlflowGetMetricHistoryBulkIntervalResponse {
  metrics: [MlflowMetricWithRunId!]
  apiError: ApiError
}

type MlflowExperiment {
  experimentId: String
  name: String
  artifactLocation: String
  lifecycleStage: String
  lastUpdateTime: LongString
  creationTime: LongString
  tags: [MlflowExperimentTag!]
  effectiveTraceArchivalRetention: String
}

type MlflowExperimentTag {
  key: String
  value: String
}

"A run, with its experiment and the registered versions made from it."
type MlflowRunExtension {
  info: MlflowRunInfo
  data: MlflowRunData
  inputs: MlflowRunInputs
  outputs: MlflowRunOutputs
  experiment: MlflowExperiment
  modelVersions: [MlflowModelVersion!]
}

type MlflowRunInfo {
  runName: String
  runUuid: String
  experimentId: String
  userId: String
  status: MlflowRunStatus
  artifactUri: String
  lifecycleStage: String
  startTime: LongString
  endTime: LongString
}

type MlflowRunData {
  metrics: [MlflowMetricExtension!]
  params: [MlflowParam!]
  tags: [MlflowRunTag!]
}

type MlflowMetricExtension {
  key: String
  value: Float
  step: LongString
  timestamp: LongString
}

type MlflowParam {
  key: String
  value: String
}

type MlflowRunTag {
  key: String
  value: String
}

type MlflowRunInputs {
  datasetInputs: [MlflowDatasetInput!]
  modelInputs: [MlflowModelInput!]
}

type MlflowDatasetInput {
  dataset: MlflowDataset
  tags: [MlflowInputTag!]
}

type MlflowDataset {
  name: String
  digest: String
  sourceType: String
  source: String
  schema: String
  profile: String
}

type MlflowInputTag {
  key: String
  value: String
}

type MlflowModelInput {
  modelId: String
}

type MlflowRunOutputs {
  modelOutputs: [MlflowModelOutput!]
}

type MlflowModelOutput {
  modelId: String
  step: LongString
}

type MlflowModelVersion {
  name: String
  version: String
  creationTimestamp: LongString
  source: String
  status: MlflowModelVersionStatus
}

type MlflowMetricWithRunId {
  key: String
  value: Float
  timestamp: LongString
  step: LongString
  runId: String
}
"""

# Protobuf's default of each scalar, which MLflow's server answers for a field left unset.
PROTO_DEFAULTS: dict[str, Any] = {
    "String": "",
    "LongString": 0,
    "Int": 0,
    "Float": 0.0,
    "Boolean": False,
}


def _long_string(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"LongString cannot represent {value!r}: not an integer")
    return str(value)


def build() -> GraphQLSchema:
    """The schema, without resolvers (graphql_fields.py attaches them)."""
    schema = build_schema(SDL)
    long_string = schema.type_map["LongString"]
    assert isinstance(long_string, GraphQLScalarType)
    long_string.serialize = _long_string  # type: ignore[method-assign]  # SDL scalars get identity
    return schema


@functools.cache
def snake_case(name: str) -> str:
    """``lastUpdateTime`` -> ``last_update_time``: a GraphQL field's name in MLflow's REST JSON."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def rest_field(source: Any, info: GraphQLResolveInfo, **_: Any) -> Any:
    """The value of a field read from REST JSON (the module's docstring says how)."""
    key = snake_case(info.field_name)
    kind = info.return_type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if not isinstance(source, dict) or key not in source:
        if isinstance(source, dict) and "api_error" in source:
            return None  # a root field that failed answers its apiError and nothing else
        if isinstance(kind, GraphQLList):
            return []
        return PROTO_DEFAULTS.get(kind.name) if isinstance(kind, GraphQLNamedType) else None
    value = source[key]
    if kind is GraphQLFloat and isinstance(value, str):  # "NaN", "Infinity", "-Infinity"
        return None
    return value
