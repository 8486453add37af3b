"""MinIO down for 30 s while the stock client logs metrics and uploads artifacts: the server
answers retryable 503s and stays up; the client's retries succeed once MinIO is back; nothing
acknowledged is lost and no artifact is visible half-written."""

from __future__ import annotations

import time
from pathlib import Path

import requests
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import SERVER
from e2e.cluster.waiting import eventually
from e2e.faults.components import MINIO, crash, restored, start, tracking_uri
from e2e.faults.load import LoggingLoad
from e2e.faults.probes import PROBE_FILE, Prober
from e2e.faults.tally import Tally, record

OUTAGE = 30.0
RETRYABLE = "503 TEMPORARILY_UNAVAILABLE"
METRIC_PATH = "/api/2.0/mlflow/runs/log-metric"


def metric(run_id: str) -> dict[str, object]:
    return {"run_id": run_id, "key": "after", "value": 1, "timestamp": int(time.time() * 1000)}


def test_the_server_answers_503_while_object_storage_is_down_and_loses_nothing(
    platform: LocalCluster, workspace: str, tmp_path: Path
) -> None:
    uri = tracking_uri(platform)
    client = MlflowClient(uri)
    experiment = client.create_experiment("object-store-down")
    run_id = client.create_run(experiment).info.run_id
    probe_run = client.create_run(experiment).info.run_id
    server_pid = platform.running()[SERVER]
    with (
        LoggingLoad(client, run_id, tmp_path / "sent") as load,
        Prober(uri, workspace, probe_run, experiment) as prober,
    ):
        with restored(platform, MINIO):
            load.wait_for_step(20, timeout=120)
            crash(platform, MINIO)
            time.sleep(OUTAGE)
            during = dict(prober.answers)
            start(platform, MINIO)
            back_at = time.monotonic()
        # The server's own recovery: its first answer of 200 to a metric write.
        eventually(
            lambda: (
                prober.probe("log-metric after", "POST", METRIC_PATH, json=metric(probe_run)) == 200
            ),
            timeout=60,
            what="a metric write through the server once MinIO is back",
            every=0.2,
        )
        server_back = time.monotonic() - back_at
        load.wait_for_step(load.step + 20, timeout=240)
        client_back = (load.first_ack_after(back_at) or time.monotonic()) - back_at
    audit = load.audit(MlflowClient(uri), tmp_path / "read")
    # The probes' uploads, some refused mid-outage: each listed file is whole.
    probed = MlflowClient(uri).list_artifacts(probe_run, "probe")
    torn = [f.path for f in probed if f.file_size != len(PROBE_FILE)]
    record(
        Tally(
            f"MinIO SIGKILLed, down {OUTAGE:.0f} s",
            f"stock client: {load.step} steps ({audit.acked} acked writes, "
            f"{len(load.artifacts)} artifacts); probes every 0.5 s",
            server_back,
            audit.lost,
            audit.duplicated,
            f"client's next ack {client_back:.1f} s after (its backoff); "
            f"half-written {audit.half_written + len(torn)} of "
            f"{len(load.artifacts) + len(probed)} files",
        )
    )
    print("faults: probe answers:", prober.summary())
    # The server stayed up and answered every probe with 200 or a retryable 503, promptly.
    assert platform.running().get(SERVER) == server_pid
    assert requests.get(f"{uri}/health", timeout=5).status_code == 200
    assert prober.unexpected({RETRYABLE}) == {}
    assert any(outcome == RETRYABLE for (_, outcome) in during), during
    assert prober.slowest < 30
    assert audit.errors == []
    assert (audit.lost, audit.duplicated, audit.half_written, audit.failed) == (0, 0, 0, 0)
    assert probed
    assert torn == []
