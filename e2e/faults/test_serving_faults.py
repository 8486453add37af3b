"""A scoring server under a rolling update and under a killed pod keeps answering.

Two replicas of `faulty` serve version 1 through an alias; one client sends a request every
few tens of milliseconds, each on a new connection (the Service balances connections). Moving
the alias to version 2 rolls the Deployment without one failed request. SIGKILLing one pod's
server (its container's process, as the kernel's OOM killer would) fails at most the requests
the Service sends to the dead pod before the kubelet sees the death and the endpoints drop it:
those fail at once (connection refused; no request reached a model), the other pod answers all
the while, and no request fails once the pod is back.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.waiting import eventually
from e2e.faults.components import tracking_uri
from e2e.faults.models import log_linear_model, predict
from e2e.faults.tally import Tally, record

MODEL = "faulty"
SLOPES = {1: 2.0, 2: 3.0}  # version -> what it answers at x = 1
ALIAS = "live"
DEPLOYMENT = "rolling"
# How long after the kill a request may still fail: the kubelet's pod lifecycle event relist
# (1 s), the endpoint controller, and kube-proxy's next sync, on a loaded two-core node.
DROPPED_WITHIN = 15.0


@dataclass
class Traffic:
    url: str
    outcomes: Counter[str] = field(default_factory=Counter)
    answers: Counter[float] = field(default_factory=Counter)
    failed_at: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)

    def ok(self) -> int:
        return self.outcomes["ok"]

    def failed(self) -> dict[str, int]:
        return {k: n for k, n in self.outcomes.items() if k != "ok"}

    def _run(self) -> None:
        deadline = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self.answers[predict(self.url, timeout=10)] += 1
                self.outcomes["ok"] += 1
            except Exception as err:  # every failure counts, whatever its kind
                self.outcomes[f"{type(err).__name__}: {str(err)[:80]}"] += 1
                self.failed_at.append(time.monotonic())
            self._stop.wait(0.03)


def status(cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    found = cluster.get_json(namespace, "modeldeployment", DEPLOYMENT)
    return dict(found.get("status") or {})


def ready(cluster: LocalCluster, namespace: str, version: int, timeout: float) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        now = status(cluster, namespace)
        wanted = ("Ready", version, 2)
        got = (now.get("phase"), now.get("servedVersion"), now.get("readyReplicas"))
        return now if got == wanted else None

    return eventually(check, timeout=timeout, what=f"{DEPLOYMENT} serving v{version} on 2 pods")


def serving_pods(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    pods = cluster.get_json(namespace, "pods")["items"]
    return [
        p
        for p in pods
        if "deletionTimestamp" not in p["metadata"]
        and p["status"].get("phase") == "Running"
        and all(c.get("ready") for c in p["status"].get("containerStatuses", []))
        and not p["metadata"]["name"].startswith(("run-", "train-"))
    ]


def set_alias(cluster: LocalCluster, namespace: str, version: int) -> None:
    cluster.kubectl(
        "patch", "registeredmodel", MODEL, "-n", namespace, "--type=merge",
        "-p", f'{{"spec":{{"aliases":{{"{ALIAS}":{version}}}}}}}',
    )  # fmt: skip


@pytest.fixture
def deployed(platform: LocalCluster, workspace: str, tmp_path: Path) -> str:
    """`faulty` v1 and v2 registered, the alias on v1, two pods serving it; its URL."""
    client = MlflowClient(tracking_uri(platform))
    experiment = client.create_experiment("serving-faults")
    objects: list[dict[str, Any]] = [
        {"kind": "RegisteredModel", "metadata": {"name": MODEL}, "spec": {"aliases": {ALIAS: 1}}}
    ]
    for version, slope in SLOPES.items():
        run_id = client.create_run(experiment).info.run_id
        log_linear_model(client, run_id, slope, tmp_path)
        client.set_terminated(run_id)
        objects.append(
            {
                "kind": "ModelVersion",
                "metadata": {"name": f"{MODEL}-{version}"},
                "spec": {"model": MODEL, "source": f"runs:/{run_id}/model"},
            }
        )
    # One at a time: v1 must be numbered 1.
    platform.apply_objects(workspace, objects[0], objects[1])
    eventually(
        lambda: (
            (platform.get_json(workspace, "modelversion", f"{MODEL}-1").get("status") or {}).get(
                "phase"
            )
            == "Ready"
        ),
        timeout=120,
        what="version 1 to register",
    )
    platform.apply_objects(workspace, objects[2])
    platform.apply_objects(
        workspace,
        {
            "kind": "ModelDeployment",
            "metadata": {"name": DEPLOYMENT},
            "spec": {"model": {"name": MODEL, "alias": ALIAS}, "replicas": 2},
        },
    )
    return str(ready(platform, workspace, 1, timeout=240)["url"])


def test_a_rolling_update_and_a_killed_pod_keep_the_model_answering(
    platform: LocalCluster, workspace: str, deployed: str
) -> None:
    eventually(
        lambda: (
            (platform.get_json(workspace, "modelversion", f"{MODEL}-2").get("status") or {}).get(
                "phase"
            )
            == "Ready"
        ),
        timeout=120,
        what="version 2 to register",
    )
    traffic = Traffic(deployed).start()
    try:
        eventually(lambda: traffic.ok() >= 20, timeout=60, what="requests before the rollout")
        set_alias(platform, workspace, 2)
        rolled_at = time.monotonic()
        ready(platform, workspace, 2, timeout=300)
        rolled = time.monotonic() - rolled_at
        after = traffic.ok() + 20
        eventually(lambda: traffic.ok() >= after, timeout=60, what="requests after the rollout")
        rollout = {"ok": traffic.ok(), "failed": traffic.failed(), "answers": dict(traffic.answers)}

        victim = serving_pods(platform, workspace)[0]
        container = victim["status"]["containerStatuses"][0]
        restarts = container.get("restartCount", 0)
        before_kill = Counter(traffic.outcomes)
        killed_at = time.monotonic()
        platform.node.ctr(
            "tasks", "kill", "-s", "SIGKILL", container["containerID"].split("://", 1)[1]
        )

        def back() -> bool:
            pod = platform.get_json(workspace, "pod", victim["metadata"]["name"])
            statuses = pod["status"].get("containerStatuses", [])
            return (
                bool(statuses)
                and statuses[0].get("restartCount", 0) > restarts
                and all(c.get("ready") for c in statuses)
            )

        eventually(back, timeout=180, what="the killed pod to be back and ready", every=0.5)
        recovered = time.monotonic() - killed_at
        after = traffic.ok() + 20
        eventually(lambda: traffic.ok() >= after, timeout=60, what="requests after the kill")
    finally:
        traffic.stop()
    killed = {k: n - before_kill.get(k, 0) for k, n in traffic.outcomes.items()}
    kill_failures = {k: n for k, n in killed.items() if k != "ok" and n}
    last_failure = max((t - killed_at for t in traffic.failed_at), default=0.0)
    record(
        Tally(
            "model served by alias: moved v1 -> v2 (rolling update)",
            f"1 client, new connection per request ({rollout['ok']} answered)",
            rolled,
            sum(rollout["failed"].values()),
            0,
            f"answers by value {rollout['answers']}",
        )
    )
    record(
        Tally(
            "one of 2 serving pods SIGKILLed",
            f"same client ({killed.get('ok', 0)} answered after the kill)",
            recovered,
            sum(kill_failures.values()),
            0,
            f"failed requests {kill_failures}, the last {last_failure:.1f} s after the kill",
        )
    )
    assert rollout["failed"] == {}
    assert set(rollout["answers"]) == set(SLOPES.values())  # both versions answered
    assert last_failure <= DROPPED_WITHIN
    # Only requests the dead pod never took failed: refused connections, no error answers.
    assert all("Connection" in k for k in kill_failures), kill_failures
    assert killed.get("ok", 0) >= 20
