"""kube-apiserver SIGKILLed and restarted, then etcd frozen (SIGSTOP) for a while, under the
stock client's logging loop: the tracking server and the operator recover by themselves,
within RECOVERY seconds of the control plane answering again, and no acknowledged write is
lost.

Recovered means both watch again: an Experiment applied with kubectl after the fault gets its
artifact location from the operator, and the tracking server finds it by name.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import OPERATOR, SERVER
from e2e.cluster.waiting import eventually
from e2e.faults.components import APISERVER, ETCD, crash, restored, start, tracking_uri
from e2e.faults.load import LoggingLoad
from e2e.faults.tally import Tally, record

APISERVER_DOWN = 5.0
ETCD_FROZEN = 10.0
# The informers back off up to 10 s between attempts and Kopf's watches up to about as much;
# a minute covers both with room for a loaded two-core machine.
RECOVERY = 60.0


def watching_again(cluster: LocalCluster, workspace: str, client: MlflowClient) -> float:
    """Seconds until a new Experiment is seen by the operator (it sets the artifact location)
    and by the tracking server (it finds it by name)."""
    started = time.monotonic()
    name = f"after-{uuid.uuid4().hex[:6]}"
    eventually(
        lambda: (
            cluster.kubectl(
                "apply",
                "-n",
                workspace,
                "-f",
                "-",
                check=False,
                stdin=f'{{"apiVersion":"mlkube.io/v1alpha1","kind":"Experiment",'
                f'"metadata":{{"name":"{name}"}}}}',
            )
            != ""
        ),
        timeout=RECOVERY,
        what=f"kubectl to create experiment {name}",
        every=0.5,
    )

    def seen() -> bool:
        status = cluster.get_json(workspace, "experiment", name).get("status") or {}
        if not status.get("artifactLocation"):
            return False
        try:
            return client.get_experiment_by_name(name) is not None
        except MlflowException:
            return False

    eventually(seen, timeout=RECOVERY, what=f"operator and server to see {name}", every=0.5)
    return time.monotonic() - started


def test_server_and_operator_recover_from_an_api_server_restart_and_a_frozen_etcd(
    platform: LocalCluster, workspace: str, tmp_path: Path
) -> None:
    uri = tracking_uri(platform)
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("api-server-down")).info.run_id
    pids = {name: platform.running()[name] for name in (SERVER, OPERATOR)}
    recoveries = {}
    with LoggingLoad(client, run_id, tmp_path / "sent") as load:
        with restored(platform, ETCD, APISERVER):
            load.wait_for_step(20, timeout=120)
            crash(platform, APISERVER)
            time.sleep(APISERVER_DOWN)
            start(platform, APISERVER)
            recoveries["kube-apiserver"] = watching_again(platform, workspace, client)
            load.wait_for_step(load.step + 10, timeout=240)
            platform.supervisor.send(ETCD, signal.SIGSTOP)
            try:
                time.sleep(ETCD_FROZEN)
            finally:
                platform.supervisor.send(ETCD, signal.SIGCONT)
            recoveries["etcd"] = watching_again(platform, workspace, client)
        load.wait_for_step(load.step + 10, timeout=240)
    audit = load.audit(MlflowClient(uri), tmp_path / "read")
    record(
        Tally(
            f"kube-apiserver SIGKILLed, down {APISERVER_DOWN:.0f} s",
            f"stock client logging ({audit.acked} acked writes in all)",
            recoveries["kube-apiserver"],
            audit.lost,
            audit.duplicated,
        )
    )
    record(
        Tally(
            f"etcd frozen (SIGSTOP) {ETCD_FROZEN:.0f} s",
            "same loop",
            recoveries["etcd"],
            audit.lost,
            audit.duplicated,
            f"client gave up on {audit.failed}",
        )
    )
    # Nobody restarted them: they recovered by themselves.
    assert {name: platform.running().get(name) for name in pids} == pids
    assert audit.errors == []
    assert (audit.lost, audit.duplicated, audit.half_written, audit.failed) == (0, 0, 0, 0)
