"""Tracking: the same mlflow client workload against `mlflow server` and `mlkube-server`.

    python3 bench/tracking.py [--runs 10000] [--repeat 20] [--threads 8]

Starts the local control plane (kube-apiserver, etcd, MinIO; as `make up` does, in a temporary
state directory), `mlkube-server` on it and `mlflow server` with SQLite and proxied artifacts,
each on a free 127.0.0.1 port. Then, for each server in turn, the stock client times
``--repeat`` rounds of: create_run, log_batch of 500 metrics, log_params of 10 params,
set_terminated, get_metric_history (500 points), log_artifact of 8 MiB; then it fills one
experiment with ``--runs`` runs (``--threads`` client threads, not timed) and times
search_runs with a filter and order_by over them. Prints each operation's median, and
mlflow/mlkube (above 1: mlkube is faster). Everything it started is stopped. Not a test.

mlkube's side also runs `mlkube-operator` (host mode, as e2e does), because every tracking write is
a Run status patch the operator watches; the CPU seconds (utime + stime from /proc/<pid>/stat) the
tracking server and the operator used during the workload are printed with their ratio (issue 12:
the operator should stay under 5% of the server). ``--only mlkube`` skips the mlflow reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from e2e.cluster.cluster import LocalCluster  # noqa: E402
from e2e.cluster.identities import local_user_token  # noqa: E402
from e2e.cluster.platform import OPERATOR, operator_service  # noqa: E402
from tests.integration.tracking.conftest import (  # noqa: E402
    start_mlflow,
    start_mlkube,
    stop,
    wait_healthy,
)

OPERATIONS = (
    "create_run",
    "log_batch 500 metrics",
    "log 10 params",
    "set_terminated",
    "get_metric_history",
    "log_artifact 8 MiB",
    "search_runs",
)
SEARCH_FILTER = "metrics.loss < 0.5 and params.model = 'big'"
SEARCH_ORDER = ["metrics.loss DESC"]
T = TypeVar("T")


@contextmanager
def local_cluster(state: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(state)
    cluster.start()
    # mlkube authenticates and authorises every request (issue 13): the bench's client is the
    # local user, so the numbers include the guard's cost (the reference server has none).
    os.environ["MLFLOW_TRACKING_TOKEN"] = local_user_token(cluster)
    try:
        yield cluster
    finally:
        cluster.stop()


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After "pid (comm)": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(kind: str, cluster: LocalCluster, state: Path) -> Iterator[tuple[str, dict[str, int]]]:
    """The server's URL and the pids whose CPU the bench reports (mlkube: server, operator)."""
    state.mkdir(parents=True, exist_ok=True)
    log = state / "server.log"
    if kind == "mlkube":
        namespace = f"bench-{uuid.uuid4().hex[:6]}"
        cluster.kubectl("create", "namespace", namespace)
        process, url = start_mlkube(cluster, namespace, log)
    else:
        process, url = start_mlflow(state, log)
    try:
        wait_healthy(url, process, log)
        pids = {"tracking server": process.pid}
        if kind == "mlkube":
            cluster.supervisor.start(operator_service(cluster, url))
            pids["operator"] = cluster.running()[OPERATOR]
        yield url, pids
    finally:
        if kind == "mlkube":
            cluster.supervisor.stop([OPERATOR])
        stop(process)


def timed(
    samples: dict[str, list[float]], name: str, action: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    started = time.perf_counter()
    result = action(*args, **kwargs)
    samples.setdefault(name, []).append(time.perf_counter() - started)
    return result


def settle(client: Any, experiment_id: str, tries: int = 120) -> None:
    """Wait until the search answers the same twice in a row: the server's watch-fed cache may
    still be taking in the runs just filled, and the timed rounds must all see the same data."""
    previous = None
    for _ in range(tries):
        found = client.search_runs(
            [experiment_id], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100
        )
        current = [(r.info.run_id, r.data.metrics.get("loss")) for r in found]
        if current == previous:
            return
        previous = current
        time.sleep(0.5)  # a bench, not a test: a pause between polls of a live server
    raise RuntimeError(f"search over experiment {experiment_id} did not settle")


def workload(url: str, repeat: int, runs: int, threads: int, scratch: Path) -> dict[str, float]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment(f"bench-{uuid.uuid4().hex[:6]}")
    artifact = scratch / "blob.bin"
    artifact.write_bytes(os.urandom(8 * 1024 * 1024))
    samples: dict[str, list[float]] = {}
    now = int(time.time() * 1000)
    metrics = [Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(500)]
    params = [Param(f"param{i}", str(i)) for i in range(10)]
    for round_ in range(repeat + 1):  # round 0 warms connections and caches up
        run_id = timed(samples, "create_run", client.create_run, experiment_id).info.run_id
        timed(samples, "log_batch 500 metrics", client.log_batch, run_id, metrics=metrics)
        timed(samples, "log 10 params", client.log_batch, run_id, params=params)
        timed(samples, "set_terminated", client.set_terminated, run_id)
        history = timed(samples, "get_metric_history", client.get_metric_history, run_id, "loss")
        assert len(history) == 500
        timed(samples, "log_artifact 8 MiB", client.log_artifact, run_id, str(artifact))
        if round_ == 0:
            samples = {}

    search_experiment = client.create_experiment(f"search-{uuid.uuid4().hex[:6]}")

    def fill(index: int) -> None:
        run = client.create_run(search_experiment, start_time=now + index)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", (index % 100) / 100, now, 0)],
            params=[Param("model", "big" if index % 2 else "small")],
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fill, range(runs)))
    print(f"  filled {runs} runs in {time.perf_counter() - started:.0f}s", flush=True)
    settle(client, search_experiment)
    expected = None
    for round_ in range(repeat + 1):
        found = timed(
            samples,
            "search_runs",
            client.search_runs,
            [search_experiment],
            SEARCH_FILTER,
            order_by=SEARCH_ORDER,
            max_results=100,
        )
        expected = expected or [r.data.metrics["loss"] for r in found]
        assert [r.data.metrics["loss"] for r in found] == expected
        if round_ == 0:
            samples["search_runs"] = []
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--only", choices=("mlflow", "mlkube"), help="run one server only")
    args = parser.parse_args()
    kinds = (args.only,) if args.only else ("mlflow", "mlkube")
    results: dict[str, dict[str, float]] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mlkube-bench-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        print("starting the local control plane ...", flush=True)
        cluster = stack.enter_context(local_cluster(root / "cluster"))
        for kind in kinds:
            print(f"{kind} server:", flush=True)
            with server(kind, cluster, root / kind) as (url, pids):
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                try:
                    results[kind] = workload(url, args.repeat, args.runs, args.threads, root)
                finally:
                    if kind == "mlkube":
                        cpu = {n: cpu_seconds(pid) - before[n] for n, pid in pids.items()}
                        print_cpu(cpu)
    print(f"\nmedians over {args.repeat} rounds; search over {args.runs} runs\n")
    print_medians(results)
    if cpu:
        print_cpu(cpu)
    return 0


def print_medians(results: dict[str, dict[str, float]]) -> None:
    kinds = [k for k in ("mlflow", "mlkube") if k in results]
    print("| operation | " + " | ".join(f"{k} (ms)" for k in kinds) + " |", end="")
    print(" mlflow/mlkube |" if len(kinds) == 2 else "")
    print("|---|" + "---:|" * (len(kinds) + (len(kinds) == 2)))
    for name in OPERATIONS:
        values = [results[k][name] for k in kinds]
        ratio = f" {values[0] / values[1]:.2f}x |" if len(values) == 2 else ""
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in values) + " |" + ratio)


def print_cpu(cpu: dict[str, float]) -> None:
    """CPU seconds of mlkube's processes over the workload; the target is operator <= 5%."""
    server_cpu, operator_cpu = cpu["tracking server"], cpu["operator"]
    print("\nCPU seconds during the mlkube workload\n")
    print("| process | CPU (s) |\n|---|---:|")
    print(f"| tracking server | {server_cpu:.1f} |\n| operator | {operator_cpu:.1f} |")
    share = operator_cpu / server_cpu if server_cpu else float("inf")
    print(f"| operator / tracking server | {share:.1%} |")


if __name__ == "__main__":
    sys.exit(main())
