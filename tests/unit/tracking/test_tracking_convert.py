"""Resources to entities and back: names, times, non-finite values, the params budget."""

from __future__ import annotations

import math
import re
from typing import Any

from mlkube.api.common import LABEL_NAME_PATTERN
from mlkube.api.errors import parse
from mlkube.api.run import Run as RunResource
from mlkube_operator.server.entities import Metric, RunStatus
from mlkube_operator.server.store.tracking.kube import convert
from mlkube_operator.server.store.tracking.kube.cache import RunRecord
from mlkube_operator.server.store.tracking.kube.drafts import STATUS_BUDGET, RunDraft
from mlkube_operator.server.store.tracking.kube.extra import Extra, extra_from_json
from mlkube_operator.server.store.tracking.kube.values import (
    from_ms,
    metric_of,
    metric_value,
    to_ms,
)


def test_experiment_resource_names_are_valid_stable_and_distinct() -> None:
    assert convert.experiment_resource_name("churn") == "churn"
    assert convert.experiment_resource_name("Default") == "default"
    odd = convert.experiment_resource_name("/Users/ada/Churn Model")
    assert re.fullmatch(LABEL_NAME_PATTERN, odd)
    assert odd.startswith("users-ada-churn-model-")
    assert odd == convert.experiment_resource_name("/Users/ada/Churn Model")
    assert odd != convert.experiment_resource_name("/users/ada/churn model")
    assert convert.experiment_resource_name("default") != "default"
    assert re.fullmatch(LABEL_NAME_PATTERN, convert.experiment_resource_name("x" * 500))
    assert re.fullmatch(LABEL_NAME_PATTERN, convert.experiment_resource_name("!!!"))


def test_times_keep_milliseconds() -> None:
    assert from_ms(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    run = resource({"startTime": from_ms(1_700_000_000_123)})
    assert to_ms(run.status.start_time) == 1_700_000_000_123


def test_non_finite_metric_values_round_trip() -> None:
    for value in (math.inf, -math.inf, 1.5):
        stored = metric_value(Metric("m", value, 1, 2))
        parsed = resource({"metrics": {"m": stored}}).status.metrics["m"]
        assert metric_of("m", parsed).value == value
    stored = metric_value(Metric("m", math.nan, 1, 2))
    assert stored == {"value": 0.0, "nonFinite": "NaN", "timestamp": 1, "step": 2}


def resource(status: dict[str, Any], spec: dict[str, Any] | None = None) -> RunResource:
    body = {"metadata": {"name": "r", "namespace": "ns"}, "spec": spec or {}, "status": status}
    return parse(RunResource, body)


def test_run_entity_maps_phases_and_prefers_the_name_tag() -> None:
    run = resource(
        {"runId": "a" * 32, "phase": "Succeeded", "tags": {"mlflow.runName": "renamed"}},
        {"runName": "original"},
    )
    entity = convert.run_entity(run, "7")
    assert entity is not None
    assert entity.info.status is RunStatus.FINISHED
    assert entity.info.run_name == "renamed"
    assert entity.info.artifact_uri == f"mlflow-artifacts:/7/{'a' * 32}/artifacts"
    assert convert.run_entity(resource({}), "7") is None  # not started yet


def test_params_past_the_budget_go_to_the_extra_document() -> None:
    run = resource({"runId": "a" * 32, "phase": "Running"})
    record = RunRecord(run, 1, Extra(), convert.run_entity(run, "1"))
    draft = RunDraft(record)
    value = "v" * 6000
    count = STATUS_BUDGET // 6000 + 20
    draft.put_params({f"p{i:04d}": value for i in range(count)})
    assert 0 < len(draft.params) < count
    assert len(draft.params) + len(draft.extra_params) == count
    assert draft.extra_dirty
    assert len(draft.patch["params"]) == len(draft.params)
    extra, content = draft.new_extra()
    assert draft.patch["extra"] == {
        "object": extra.object,
        "params": len(draft.extra_params),
        "tags": 0,
        "metrics": 0,
        "datasets": 0,
    }
    assert extra_from_json(str(extra.object), content).params == draft.extra_params


def test_metric_keys_past_the_budget_go_to_the_extra_document() -> None:
    run = resource({"runId": "a" * 32, "phase": "Running"})
    record = RunRecord(run, 1, Extra(), convert.run_entity(run, "1"))
    draft = RunDraft(record)
    count = STATUS_BUDGET // 250 + 100
    draft.add_metrics([Metric(f"{i:0200d}", float(i), 1, 0) for i in range(count)])
    spilled = draft.extra_metrics
    assert 0 < len(spilled) < count
    assert len(draft.patch["metrics"]) + len(spilled) == count
    key = next(iter(spilled))
    draft.add_metrics([Metric(key, -1.0, 2, 1)])  # an update stays where the key lives
    assert draft.extra_metrics[key].value == -1.0
    assert key not in draft.patch["metrics"]
    extra, content = draft.new_extra()
    assert extra_from_json(str(extra.object), content).metrics[key].value == -1.0


def test_a_project_run_shows_its_source_and_kubernetes_facts_and_its_user() -> None:
    """Issue 14: the MLflow UI's source, entry point and user columns, and the Run's phase."""
    body = {
        "metadata": {
            "name": "r",
            "namespace": "ns",
            "annotations": {"mlkube.io/created-by": "ada"},
        },
        "spec": {"project": {"path": "/p"}, "entryPoint": "train"},
        "status": {
            "runId": "a" * 32,
            "phase": "Running",
            "jobName": "r",
            "image": "rt:1",
            "tags": {"note": "x"},
        },
    }
    entity = convert.run_entity(parse(RunResource, body), "7")
    assert entity is not None
    assert entity.tags["mlflow.source.type"] == "PROJECT"
    assert entity.tags["mlflow.source.name"] == "/p"
    assert entity.tags["mlflow.project.entryPoint"] == "train"
    assert entity.tags["mlkube.kubernetes.phase"] == "Running"
    assert entity.tags["mlkube.kubernetes.image"] == "rt:1"
    assert entity.tags["note"] == "x"
    assert entity.info.user_id == "ada"
    # A tracking-only run is as its client logged it.
    plain = resource({"runId": "b" * 32, "phase": "Running", "userId": "bo", "tags": {"k": "v"}})
    entity = convert.run_entity(plain, "7")
    assert entity is not None
    assert entity.tags == {"k": "v"}
    assert entity.info.user_id == "bo"
