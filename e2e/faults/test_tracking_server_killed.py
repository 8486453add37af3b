"""The tracking server SIGKILLed three times while the stock client logs: every write it
acknowledged is there afterwards, and no metric step is stored twice."""

from __future__ import annotations

import random
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import SERVER
from e2e.cluster.waiting import eventually
from e2e.faults.components import crash_and_restart, restored, tracking_uri
from e2e.faults.load import LoggingLoad
from e2e.faults.tally import Tally, record

STEPS = 200
KILLS = 3
SEED = 17


def test_no_acknowledged_write_is_lost_when_the_server_is_killed(
    platform: LocalCluster, workspace: str, tmp_path: Path
) -> None:
    uri = tracking_uri(platform)
    client = MlflowClient(uri)
    experiment = client.create_experiment("server-kills")
    run_id = client.create_run(experiment).info.run_id
    kill_steps = sorted(random.Random(SEED).sample(range(10, STEPS - 10), KILLS))
    recoveries = []
    with (
        LoggingLoad(client, run_id, tmp_path / "sent", steps=STEPS) as load,
        restored(platform, SERVER),
    ):
        for step in kill_steps:
            load.wait_for_step(step, timeout=240)
            killed = time.monotonic()
            crash_and_restart(platform, SERVER)
            up = time.monotonic()
            # Recovered: the client's first acknowledged write once the server is up again.
            back = eventually(
                lambda up=up: load.first_ack_after(up), timeout=240, what="the client's next ack"
            )
            recoveries.append(back - killed)
        load.join(timeout=300)
    audit = load.audit(MlflowClient(uri), tmp_path / "read")
    record(
        Tally(
            f"tracking server SIGKILLed {KILLS}x (steps {kill_steps})",
            f"stock client: {STEPS} metrics, {len(load.params)} params, "
            f"{len(load.artifacts)} x 64 KiB artifacts ({audit.acked} acked)",
            max(recoveries),
            audit.lost,
            audit.duplicated,
            f"client gave up on {audit.failed}",
        )
    )
    assert audit.errors == []
    assert (audit.lost, audit.duplicated, audit.half_written, audit.failed) == (0, 0, 0, 0)
