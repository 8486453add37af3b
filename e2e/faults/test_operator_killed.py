"""The operator SIGKILLed 10 times at seeded random moments while 20 Runs, 5 ModelVersions and
2 ModelDeployments reconcile: every Run ends in its right phase with exactly one Job, every
version is numbered once, and both deployments end serving the versions they name."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import OPERATOR
from e2e.cluster.waiting import eventually
from e2e.faults.components import crash_and_restart, restored, tracking_uri
from e2e.faults.models import log_linear_model, predict
from e2e.faults.tally import Tally, record

RUNS = 20
VERSIONS = 5
KILLS = 10
SEED = 17
# Half the kills fall at seeded moments in the first EARLY_WINDOW seconds after the objects are
# applied (Jobs, version numbers and serving Deployments being made); the other half when a
# seeded number of Runs has ended (Jobs finishing, Runs taking their phase), however long the
# node takes to get there.
EARLY_KILLS = KILLS // 2
EARLY_WINDOW = 20.0
SETTLE = 420.0  # the bound on reaching the right end state after the last restart
TERMINAL = {"Succeeded", "Failed", "Killed"}
MODEL = "kills"
# Which version each deployment names: one by number, one through an alias.
BY_VERSION, BY_ALIAS, ALIAS, ALIASED = "by-version", "by-alias", "champion", 2

MLPROJECT = """\
name: kills
entry_points:
  main:
    parameters:
      seconds: {type: float, default: 1}
    command: "python ok.py {seconds}"
  fail:
    command: "python fail.py"
"""


@pytest.fixture
def project(tmp_path: Path, platform: LocalCluster, workspace: str) -> str:
    """A two-entry-point project uploaded through the tracking server; its archive URI."""
    from mlkube.projects.archive import upload

    root = tmp_path / "project"
    root.mkdir()
    (root / "MLproject").write_text(MLPROJECT)
    (root / "ok.py").write_text("import sys, time\ntime.sleep(float(sys.argv[1]))\nprint('ok')\n")
    (root / "fail.py").write_text("raise SystemExit('fails on purpose')\n")
    return upload(root, {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri(platform)}, workspace)


def manifests(
    archive: str, model_runs: dict[int, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The objects to apply, and the phase each Run must end in."""
    rng = random.Random(SEED)
    objects: list[dict[str, Any]] = []
    expected: dict[str, str] = {}
    for i in range(RUNS):
        name = f"run-{i:02d}"
        failing = i % 5 == 4
        spec: dict[str, Any] = {
            "experiment": "default",
            "project": {"uri": archive},
            "entryPoint": "fail" if failing else "main",
            "backoffLimit": 0,
        }
        if not failing:
            spec["parameters"] = {"seconds": f"{rng.uniform(0.5, 5):.1f}"}
        objects.append({"kind": "Run", "metadata": {"name": name}, "spec": spec})
        expected[name] = "Failed" if failing else "Succeeded"
    objects.append(
        {
            "kind": "RegisteredModel",
            "metadata": {"name": MODEL},
            "spec": {"aliases": {ALIAS: ALIASED}},
        }
    )
    for slope, run_id in model_runs.items():
        objects.append(
            {
                "kind": "ModelVersion",
                "metadata": {"name": f"{MODEL}-slope-{slope}"},
                "spec": {"model": MODEL, "source": f"runs:/{run_id}/model"},
            }
        )
    for name, ref in ((BY_VERSION, {"version": 1}), (BY_ALIAS, {"alias": ALIAS})):
        objects.append(
            {
                "kind": "ModelDeployment",
                "metadata": {"name": name},
                "spec": {"model": {"name": MODEL, **ref}, "replicas": 1},
            }
        )
    return objects, expected


def items(cluster: LocalCluster, namespace: str, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cluster.get_json(namespace, kind)["items"]
    return found


def ended(cluster: LocalCluster, namespace: str, expected: dict[str, str]) -> int:
    """How many of the project Runs have ended."""
    runs = items(cluster, namespace, "runs")
    return sum(
        1
        for r in runs
        if r["metadata"]["name"] in expected and (r.get("status") or {}).get("phase") in TERMINAL
    )


def settled(
    cluster: LocalCluster, namespace: str, expected: dict[str, str]
) -> dict[str, Any] | None:
    """The end state once every Run and version is terminal and both deployments serve the
    versions they name; None before."""
    runs = {
        r["metadata"]["name"]: (r.get("status") or {}) for r in items(cluster, namespace, "runs")
    }
    project_runs = {n: runs.get(n, {}) for n in expected}
    if any(s.get("phase") not in TERMINAL for s in project_runs.values()):
        return None
    versions = {
        v["metadata"]["name"]: (v.get("status") or {})
        for v in items(cluster, namespace, "modelversions")
    }
    if any(s.get("phase") not in {"Ready", "FailedRegistration"} for s in versions.values()):
        return None
    deployments = {
        d["metadata"]["name"]: (d.get("status") or {})
        for d in items(cluster, namespace, "modeldeployments")
    }
    wanted = {BY_VERSION: 1, BY_ALIAS: ALIASED}
    for name, version in wanted.items():
        status = deployments.get(name, {})
        if (status.get("phase"), status.get("servedVersion"), status.get("readyReplicas")) != (
            "Ready",
            version,
            1,
        ):
            return None
    return {"runs": project_runs, "versions": versions, "deployments": deployments}


def test_every_object_ends_right_when_the_operator_is_killed_ten_times(
    platform: LocalCluster, workspace: str, project: str, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri(platform))
    experiment = client.create_experiment("operator-kills")
    model_runs: dict[int, str] = {}
    for slope in range(1, VERSIONS + 1):
        run_id = client.create_run(experiment).info.run_id
        log_linear_model(client, run_id, float(slope), tmp_path)
        client.set_terminated(run_id)
        model_runs[slope] = run_id
    objects, expected = manifests(project, model_runs)
    rng = random.Random(SEED)
    moments = sorted(rng.uniform(0, EARLY_WINDOW) for _ in range(EARLY_KILLS))
    when_ended = sorted(rng.sample(range(1, RUNS), KILLS - EARLY_KILLS))
    downtime = 0.0
    ended_at_kill: list[int] = []  # Runs already ended at each kill
    with restored(platform, OPERATOR):
        applied = time.monotonic()
        platform.apply_objects(workspace, *objects)
        for moment in moments:
            time.sleep(max(0.0, applied + moment - time.monotonic()))
            ended_at_kill.append(ended(platform, workspace, expected))
            downtime += crash_and_restart(platform, OPERATOR)
        for count in when_ended:

            def reached(count: int = count) -> int | None:
                n = ended(platform, workspace, expected)
                return n if n >= count else None

            ended_at_kill.append(
                eventually(reached, timeout=SETTLE, what=f"{count} Runs to end", every=0.5)
            )
            downtime += crash_and_restart(platform, OPERATOR)
        last_restart = time.monotonic()
    state = eventually(
        lambda: settled(platform, workspace, expected),
        timeout=SETTLE,
        what="every Run, version and deployment to settle after the last operator restart",
        every=1.0,
    )
    recovered = time.monotonic() - last_restart

    wrong_phase = {
        n: s.get("phase") for n, s in state["runs"].items() if s.get("phase") != expected[n]
    }
    jobs = Counter(
        ref["name"]
        for job in items(platform, workspace, "jobs")
        for ref in job["metadata"].get("ownerReferences", [])
        if ref["kind"] == "Run"
    )
    without_job = [n for n in expected if jobs[n] == 0]
    extra_jobs = sum(n - 1 for n in jobs.values() if n > 1)
    numbers = Counter(s.get("version") for s in state["versions"].values())
    not_ready = [n for n, s in state["versions"].items() if s.get("phase") != "Ready"]
    renumbered = sum(n - 1 for n in numbers.values() if n > 1)
    slope_of = {s["version"]: int(name.rsplit("-", 1)[1]) for name, s in state["versions"].items()}
    answers = {name: predict(state["deployments"][name]["url"]) for name in (BY_VERSION, BY_ALIAS)}
    served_right = {BY_VERSION: slope_of.get(1), BY_ALIAS: slope_of.get(ALIASED)}
    wrong_answers = {n: a for n, a in answers.items() if a != pytest.approx(served_right[n])}
    record(
        Tally(
            f"operator SIGKILLed {KILLS}x at seeded moments (down {downtime:.0f} s in all)",
            f"{RUNS} Runs (Jobs), {VERSIONS} ModelVersions, 2 ModelDeployments",
            recovered,
            len(wrong_phase) + len(without_job) + len(not_ready) + len(wrong_answers),
            extra_jobs + renumbered,
            f"Runs ended at each kill {ended_at_kill}; {extra_jobs} extra Jobs, "
            f"{renumbered} version numbers repeated",
        )
    )
    assert wrong_phase == {}
    assert without_job == []
    assert extra_jobs == 0
    assert not_ready == []
    assert sorted(numbers) == list(range(1, VERSIONS + 1))
    assert wrong_answers == {}
