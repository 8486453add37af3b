"""Pod create -> Running on the local cluster's real node (issue 11): p50 and p90 over N pods.

    python3 bench/pod_startup.py [--pods 20] [--image python:3.11]

Starts a cluster of its own in a temporary state directory (its own slot, beside any other),
creates the pods one after another (each waits for the previous one to run), and reports the
time from the create request to the pod's Running phase as `kubectl` sees it. Nothing is timed
in tests; this prints numbers for the issue's note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from e2e.cluster.cluster import LocalCluster  # noqa: E402


def pod(name: str, image: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}],
            },
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--image", default="python:3.11")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlkube-bench-") as state:
        cluster = LocalCluster(Path(state))
        started = time.monotonic()
        try:
            cluster.start()
            print(f"cluster up in {time.monotonic() - started:.1f}s")
            cluster.kubectl("create", "namespace", "bench")
            seconds = []
            for i in range(args.pods):
                name = f"p{i}"
                begin = time.monotonic()
                cluster.kubectl("apply", "-n", "bench", "-f", "-", stdin=pod(name, args.image))
                while True:
                    phase = cluster.kubectl(
                        "get", "pod", name, "-n", "bench", "-o", "jsonpath={.status.phase}"
                    )
                    if phase == "Running":
                        break
                    if time.monotonic() - begin > 120:
                        raise TimeoutError(f"pod {name} not Running after 120s ({phase})")
                    time.sleep(0.05)
                seconds.append(time.monotonic() - begin)
            seconds.sort()
            p90 = seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))]
            print(
                f"pod create -> Running over {len(seconds)} pods ({args.image}): "
                f"p50 {statistics.median(seconds):.2f}s  p90 {p90:.2f}s  "
                f"min {seconds[0]:.2f}s  max {seconds[-1]:.2f}s"
            )
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
