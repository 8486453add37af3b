"""Soak: 1,000 runs x 100 metric steps through two tracking-server replicas, each run created
through one replica and logged through the other; every count exact, and the servers' memory
flat over the second half of the load.

The load comes in two passes over the same 1,000 runs: the first creates them and logs steps
0-49, the second logs steps 50-99 and ends them. A server's cache holds every Run by design, so
its memory grows with the first pass (reported per run); the second pass adds no object to any
cache, so whatever it leaves behind is a leak: the end RSS must stay within FLAT of the middle.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import SERVER
from e2e.faults.components import rss_mib, second_server, tracking_uri
from e2e.faults.tally import Tally, record

RUNS = 1000
STEPS = 100
WORKERS = 8
# The second pass sends 2,000 requests to the two replicas and adds nothing to their caches: a
# leak of 8 KiB per request (about one retained 50-point batch body) would pass 16 MiB on one
# replica; allocator noise over such a pass was about 1 MiB when measured.
FLAT_MIB = 16.0
REPLICA_B = f"{SERVER}-b"


def pass_of(
    clients: list[MlflowClient],
    first: bool,
    run_ids: list[str],
    experiment: str,
    failed: Counter[str],
) -> Callable[[int], None]:
    def one(i: int) -> None:
        here, there = clients[i % 2], clients[(i + 1) % 2]
        steps = range(0, STEPS // 2) if first else range(STEPS // 2, STEPS)
        try:
            if first:
                run_ids[i] = here.create_run(experiment).info.run_id
            metrics = [Metric("loss", 1.0 / (s + 1), 1_000 + s, s) for s in steps]
            there.log_batch(run_ids[i], metrics=metrics)
            if not first:
                here.set_terminated(run_ids[i])
        except Exception as err:
            failed[f"{type(err).__name__}: {str(err)[:120]}"] += 1

    return one


def test_a_thousand_runs_through_two_replicas_keep_exact_counts_and_flat_memory(
    platform: LocalCluster, workspace: str
) -> None:
    with second_server(platform) as uri_b:
        clients = [MlflowClient(tracking_uri(platform)), MlflowClient(uri_b)]
        experiment = clients[0].create_experiment("soak")
        names = (SERVER, REPLICA_B)
        rss = {"start": {n: rss_mib(platform, n) for n in names}}
        run_ids = [""] * RUNS
        failed: Counter[str] = Counter()
        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(pass_of(clients, True, run_ids, experiment, failed), range(RUNS)))
            rss["middle"] = {n: rss_mib(platform, n) for n in names}
            list(pool.map(pass_of(clients, False, run_ids, experiment, failed), range(RUNS)))
        rss["end"] = {n: rss_mib(platform, n) for n in names}
        elapsed = time.monotonic() - started

        def points(i: int) -> Counter[int]:
            if not run_ids[i]:
                return Counter()
            return Counter(m.step for m in clients[i % 2].get_metric_history(run_ids[i], "loss"))

        with ThreadPoolExecutor(WORKERS) as pool:
            histories = list(pool.map(points, range(RUNS)))
        finished = sum(
            1
            for r in clients[0].search_runs([experiment], max_results=RUNS)
            if r.info.status == "FINISHED"
        )
    lost = sum(1 for h in histories for s in range(STEPS) if h[s] == 0)
    duplicated = sum(n - 1 for h in histories for n in h.values() if n > 1)
    growth = {n: rss["end"][n] - rss["middle"][n] for n in names}
    per_run_kib = {n: (rss["middle"][n] - rss["start"][n]) * 1024 / RUNS for n in names}
    record(
        Tally(
            "none (soak)",
            f"{RUNS} runs x {STEPS} steps via 2 replicas, {WORKERS} client threads, "
            f"{elapsed:.0f} s",
            None,
            lost,
            duplicated,
            "RSS MiB start/middle/end: "
            + "; ".join(
                f"{n} {rss['start'][n]:.0f}/{rss['middle'][n]:.0f}/{rss['end'][n]:.0f}"
                for n in names
            )
            + f"; {finished} FINISHED",
        )
    )
    print("faults: soak RSS", rss, "growth in pass 2", growth, "first pass KiB/run", per_run_kib)
    assert dict(failed) == {}
    assert (lost, duplicated) == (0, 0)
    assert finished == RUNS
    assert all(g <= FLAT_MIB for g in growth.values()), growth
