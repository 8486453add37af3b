"""What the other controllers decide from their indexes, and the bounded per-key locks."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from tests.unit.controllers.fakes import FakeKube, context, indexes

from mlkube.api.kinds import RUN
from mlkube.api.model_deployment import ModelRef
from mlkube_operator.controllers.context import Ensured, KeyedLocks
from mlkube_operator.controllers.experiment import counts, needs_identity
from mlkube_operator.controllers.model_deployment import Resolved, Unresolved, resolve
from mlkube_operator.controllers.model_version import Waiting, experiment_id_of, is_pending
from mlkube_operator.controllers.run_catalog import RunCatalog


def version(number: int, phase: str = "Ready", stage: str | None = None) -> dict[str, Any]:
    return {
        "name": f"m-{number}",
        "version": number,
        "phase": phase,
        "stage": stage,
        "message": None if phase == "Ready" else "no MLmodel file",
        "storageUri": f"s3://mlkube/ml/models/m/{number}",
    }


MODEL = {"aliases": {"champion": "1"}}
VERSIONS = [version(1), version(2, stage="Production"), version(3, phase="FailedRegistration")]


def test_a_reference_resolves_by_version_alias_and_stage() -> None:
    assert resolve(MODEL, VERSIONS, "ml", ModelRef(name="m", version=2)) == Resolved(
        2, "s3://mlkube/ml/models/m/2"
    )
    assert resolve(MODEL, VERSIONS, "ml", ModelRef(name="m", alias="champion")).version == 1
    assert resolve(MODEL, VERSIONS, "ml", ModelRef(name="m", stage="Production")).version == 2


@pytest.mark.parametrize(
    ("model", "ref", "why"),
    [
        (None, ModelRef(name="m", version=1), "RegisteredModel 'm' does not exist in ml"),
        (MODEL, ModelRef(name="m", alias="best"), "no alias 'best' (aliases: champion)"),
        (MODEL, ModelRef(name="m", stage="Staging"), "no Ready version in stage Staging"),
        (MODEL, ModelRef(name="m", version=9), "has no version 9"),
        (MODEL, ModelRef(name="m", version=3), "is FailedRegistration: no MLmodel file"),
    ],
)
def test_an_unresolved_reference_says_why(
    model: dict[str, Any] | None, ref: ModelRef, why: str
) -> None:
    with pytest.raises(Unresolved, match=re.escape(why)):
        resolve(model, VERSIONS, "ml", ref)


def test_a_runs_source_reads_its_experiment_id_from_the_index() -> None:
    found = indexes(experiments={("ml", "churn"): [{"experimentId": "4"}]})
    assert experiment_id_of(found, "ml", "churn") == "4"
    with pytest.raises(Waiting, match="experiment 'other' has no id yet"):
        experiment_id_of(found, "ml", "other")


def test_only_pending_versions_reach_the_registration_handlers() -> None:
    assert is_pending(meta={}, status={})
    assert is_pending(meta={}, status={"phase": "PendingRegistration"})
    assert not is_pending(meta={}, status={"phase": "Ready"})
    assert not is_pending(meta={"deletionTimestamp": "x"}, status={})


def test_only_experiments_without_their_identity_reach_the_identity_handlers() -> None:
    done = {"experimentId": "4", "artifactLocation": "mlflow-artifacts:/4"}
    assert not needs_identity(spec={}, status=done, meta={})
    assert needs_identity(spec={}, status={}, meta={})
    assert needs_identity(spec={"artifactLocation": "s3://b/x"}, status=done, meta={})
    # A count write or a tracking write to an Experiment that has its identity: filtered out.
    assert not needs_identity(spec={}, status={**done, "runs": 3}, meta={})


def test_a_key_lock_is_dropped_when_nobody_holds_it() -> None:
    locks = KeyedLocks()
    for n in range(1000):
        with locks.hold(f"run/ml/{n}"):
            assert len(locks) == 1
    assert len(locks) == 0


def test_a_key_lock_serializes_its_holders_and_survives_waiters() -> None:
    locks = KeyedLocks()
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with locks.hold("k"):
            inside.set()
            release.wait(5)
            order.append("first")

    def second() -> None:
        with locks.hold("k"):
            order.append("second")

    one = threading.Thread(target=first)
    one.start()
    assert inside.wait(5)
    two = threading.Thread(target=second)
    two.start()
    release.set()
    one.join(5)
    two.join(5)
    assert order == ["first", "second"]
    assert len(locks) == 0


def test_the_secret_is_checked_once_per_namespace_while_fresh() -> None:
    fake = FakeKube()
    ctx = context(fake)
    for _ in range(50):
        ctx.ensure_s3_secret("ml")
    assert fake.calls == [
        ("get", "secrets", "ml", "mlkube-s3"),
        ("create", "secrets", "ml", "mlkube-s3"),
    ]
    clock = [0.0]
    ensured = Ensured(ttl=10, clock=lambda: clock[0])
    ensured.mark("ml")
    assert ensured.fresh("ml")
    assert not ensured.fresh("other")
    clock[0] = 11
    assert not ensured.fresh("ml")


def a_run(
    name: str, experiment: str, phase: str | None, run_id: str | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase} if phase else {}
    if run_id:
        status |= {"runId": run_id, "modelOutputs": [{"modelId": "m-1", "step": 0}]}
    return {
        "metadata": {"namespace": "ml", "name": name},
        "spec": {"experiment": experiment},
        "status": status,
    }


def test_the_run_catalog_counts_phases_and_finds_runs_by_id() -> None:
    catalog = RunCatalog()
    catalog.replace(RUN, [a_run("a", "churn", "Running", "id-a"), a_run("b", "churn", None)])
    catalog.upsert(RUN, a_run("c", "other", "Failed"))
    assert catalog.phases("ml", "churn") == {"Pending": 1, "Running": 1}
    catalog.upsert(RUN, a_run("a", "churn", "Succeeded", "id-a"))  # a status write
    assert catalog.phases("ml", "churn") == {"Pending": 1, "Succeeded": 1}
    assert counts(catalog.phases("ml", "churn")) == {
        "runs": 2,
        "activeRuns": 1,
        "succeededRuns": 1,
        "failedRuns": 0,
    }
    assert catalog.run_by_id("ml", "id-a") == {
        "experiment": "churn",
        "modelOutputs": [{"modelId": "m-1", "step": 0}],
    }
    catalog.remove(RUN, a_run("a", "churn", "Succeeded", "id-a"))
    assert catalog.run_by_id("ml", "id-a") is None
    assert catalog.phases("ml", "churn") == {"Pending": 1}
    catalog.replace_namespace([a_run("d", "other", "Running")])
    assert catalog.phases("ml", "churn") == {}
    assert catalog.phases("ml", "other") == {"Running": 1}
