"""Two tracking-server replicas writing one run at once: every write to the same Run object
races for its resourceVersion (a storm of 409s between the replicas, each re-read and
retried), and nothing acknowledged is lost or stored twice."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from functools import partial

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.waiting import eventually
from e2e.faults.components import second_server, tracking_uri
from e2e.faults.tally import Tally, record

THREADS = 4  # per replica
WRITES = 25  # per thread, of each kind: a metric step, a param, a tag
CONVERGE = 20.0  # how long one replica may trail the other's writes (a watch event)


def step_of(who: str, i: int) -> int:
    """Each writer's own metric steps: a thousand apart (``who`` is a replica letter and a
    thread number, such as ``b3``)."""
    return ("ab".index(who[0]) * THREADS + int(who[1:])) * 1000 + i


def writer(
    client: MlflowClient,
    run_id: str,
    who: str,
    acked: list[tuple[str, str, int]],
    failed: Counter[str],
) -> None:
    for i in range(WRITES):
        step = step_of(who, i)
        calls: list[tuple[str, Callable[[], None]]] = [
            ("metric", partial(client.log_metric, run_id, "m", float(i), timestamp=i, step=step)),
            ("param", partial(client.log_param, run_id, f"{who}-p{i}", str(i))),
            ("tag", partial(client.set_tag, run_id, f"{who}-t{i}", str(i))),
        ]
        for kind, call in calls:
            try:
                call()
                acked.append((kind, who, i))
            except MlflowException as err:
                failed[f"{kind}: {err.error_code}"] += 1


def missing(
    client: MlflowClient, run_id: str, acked: list[tuple[str, str, int]]
) -> tuple[list[str], int]:
    """What of ``acked`` the replica behind ``client`` does not show, and the metric points it
    shows beyond one per step."""
    run = client.get_run(run_id)
    history = client.get_metric_history(run_id, "m")
    steps = Counter(p.step for p in history)
    lost = []
    for kind, who, i in acked:
        step = step_of(who, i)
        found = {
            "metric": steps[step] >= 1,
            "param": run.data.params.get(f"{who}-p{i}") == str(i),
            "tag": run.data.tags.get(f"{who}-t{i}") == str(i),
        }[kind]
        if not found:
            lost.append(f"{kind} {who} {i}")
    return lost, sum(n - 1 for n in steps.values() if n > 1)


def test_two_replicas_writing_one_run_lose_nothing(platform: LocalCluster, workspace: str) -> None:
    a = MlflowClient(tracking_uri(platform))
    with second_server(platform) as uri_b:
        b = MlflowClient(uri_b)
        run_id = a.create_run(a.create_experiment("conflicts")).info.run_id
        eventually(lambda: b.get_run(run_id), timeout=CONVERGE, what="replica b to know the run")
        acked: list[tuple[str, str, int]] = []
        failed: Counter[str] = Counter()
        threads = [
            threading.Thread(target=writer, args=(client, run_id, f"{name}{n}", acked, failed))
            for name, client in (("a", a), ("b", b))
            for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a writer did not finish in 300 s"
        results: dict[str, tuple[list[str], int]] = {}
        for name, client in (("a", a), ("b", b)):
            # A replica may trail the other's last writes by a watch event; what never shows
            # is counted as lost below.
            with contextlib.suppress(TimeoutError):
                eventually(
                    lambda c=client: not missing(c, run_id, acked)[0],
                    timeout=CONVERGE,
                    what=f"replica {name} to show every acknowledged write",
                )
            results[name] = missing(client, run_id, acked)
    lost = max(len(r[0]) for r in results.values())
    duplicated = max(r[1] for r in results.values())
    record(
        Tally(
            "two server replicas, one run, concurrent writers",
            f"{2 * THREADS} threads x {WRITES} x (metric, param, tag) = {len(acked)} acked",
            None,
            lost,
            duplicated,
            f"client saw {sum(failed.values())} errors {dict(failed)}",
        )
    )
    assert dict(failed) == {}
    assert results == {"a": ([], 0), "b": ([], 0)}
