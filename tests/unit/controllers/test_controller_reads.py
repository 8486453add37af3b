"""What the other controllers decide from their indexes, and the bounded per-key locks."""

from __future__ import annotations

import re
import threading
from typing import Any, cast

import pytest
from tests.unit.controllers.fakes import FakeKube, context, indexes

from mlkube.api.model_deployment import ModelRef
from mlkube_operator.controllers.context import Ensured, KeyedLocks
from mlkube_operator.controllers.experiment import needs_identity
from mlkube_operator.controllers.model_deployment import Resolved, Unresolved, resolve
from mlkube_operator.controllers.model_version import (
    ModelVersionReconciler,
    Waiting,
    experiment_id_of,
    is_pending,
)
from mlkube_operator.settings import Settings


def version(number: int, phase: str = "Ready", stage: str | None = None) -> dict[str, Any]:
    return {
        "name": f"m-{number}",
        "version": number,
        "phase": phase,
        "stage": stage,
        "message": None if phase == "Ready" else "no MLmodel file",
    }


MODEL = {"aliases": {"champion": "1"}}
VERSIONS = [version(1), version(2, stage="Production"), version(3, phase="FailedRegistration")]


def test_a_reference_resolves_by_version_alias_and_stage() -> None:
    assert resolve(MODEL, VERSIONS, "ml", ModelRef(name="m", version=2)) == Resolved("m", 2)
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


def test_the_pod_identities_are_checked_once_per_namespace_while_fresh() -> None:
    fake = FakeKube()
    ctx = context(fake)
    for _ in range(50):
        ctx.ensure_identity("ml", ctx.run_identity())
        ctx.ensure_identity("ml", ctx.serving_identity())
    assert fake.calls == [
        ("get", "serviceaccounts", "ml", "mlkube-run"),
        ("create", "serviceaccounts", "ml", "mlkube-run"),
        ("get", "rolebindings", "ml", "mlkube-run"),
        ("create", "rolebindings", "ml", "mlkube-run"),
        ("get", "serviceaccounts", "ml", "mlkube-serving"),
        ("create", "serviceaccounts", "ml", "mlkube-serving"),
        ("get", "rolebindings", "ml", "mlkube-serving"),
        ("create", "rolebindings", "ml", "mlkube-serving"),
    ]
    binding = fake.objects["rolebindings", "ml", "mlkube-serving"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "mlkube-serving",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "mlkube-serving", "namespace": "ml"}
    ]
    assert (
        fake.objects["serviceaccounts", "ml", "mlkube-run"]["automountServiceAccountToken"] is False
    )


def test_the_cluster_roles_come_from_the_settings_and_another_run_account_is_not_made() -> None:
    fake = FakeKube()
    settings = Settings(run_cluster_role="rel-run", serving_cluster_role="rel-serving")
    ctx = context(fake, settings)
    ctx.ensure_identity("ml", ctx.run_identity())
    assert fake.objects["rolebindings", "ml", "mlkube-run"]["roleRef"]["name"] == "rel-run"
    assert ctx.serving_identity().cluster_role == "rel-serving"
    own = context(FakeKube(), Settings(run_service_account="team-runner"))
    assert own.run_identity() is None
    own.ensure_identity("ml", own.run_identity())
    assert cast(FakeKube, own.kube).calls == []
    clock = [0.0]
    ensured = Ensured(ttl=10, clock=lambda: clock[0])
    ensured.mark("ml")
    assert ensured.fresh("ml")
    assert not ensured.fresh("other")
    clock[0] = 11
    assert not ensured.fresh("ml")


def a_run(name: str, run_id: str, *, labelled: bool) -> dict[str, Any]:
    labels = {"mlkube.io/run-id": run_id} if labelled else {}
    return {
        "metadata": {"namespace": "ml", "name": name, "labels": labels, "uid": "u-" + name},
        "spec": {"experiment": "churn", **({} if labelled else {"project": {"path": "."}})},
        "status": {"runId": run_id, "modelOutputs": [{"modelId": "m-1", "step": 0}]},
    }


def test_a_runs_source_finds_its_run_by_label_or_in_the_project_index() -> None:
    """runs:/ sources name runs of any kind; the operator watches only project Runs, so a
    tracking-only Run is found by its run-id label (one LIST), a project Run in the index."""
    fake = FakeKube()
    tracked, project = a_run("t", "id-t", labelled=True), a_run("p", "id-p", labelled=False)
    fake.objects["runs", "ml", "t"] = tracked
    fake.objects["runs", "ml", "p"] = project
    found = indexes(runs={("ml", "p"): [project]})
    reconciler = ModelVersionReconciler(context(fake))
    expected = {"experiment": "churn", "modelOutputs": [{"modelId": "m-1", "step": 0}]}
    assert reconciler._run_by_id(found, "ml", "id-t") == expected
    assert fake.calls[-1] == ("list", "runs", "ml", "mlkube.io/run-id=id-t")
    assert reconciler._run_by_id(found, "ml", "id-p") == expected
    assert fake.calls[-1] == ("get", "runs", "ml", "p")
    assert reconciler._run_by_id(found, "ml", "id-x") is None
    assert fake.calls[-1] == ("list", "runs", "ml", "")  # none labelled: every Run, once
    hand_made = {**a_run("h", "id-h", labelled=True), "spec": {"experiment": "churn"}}
    hand_made["metadata"] = {**hand_made["metadata"], "labels": {}}
    fake.objects["runs", "ml", "h"] = hand_made
    assert reconciler._run_by_id(found, "ml", "id-h") == expected
