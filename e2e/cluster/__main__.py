"""`python -m e2e.cluster up|down|status [--state DIR]`: the local stack behind `make up`/`down`."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.identities import local_user_token
from e2e.cluster.platform import install_chart, start_platform, stop_platform
from e2e.cluster.processes import StartError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.cluster", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state", type=Path, default=ROOT / ".local", help="default: .local/")
    parser.add_argument(
        "--platform",
        choices=["host", "chart", "none"],
        default="host",
        help="how mlkube itself runs: host processes (default), the Helm chart, or not at all",
    )
    args = parser.parse_args(argv)
    state: Path = args.state
    if args.command == "down":
        if state.exists():
            cluster = LocalCluster(state, detach=True)
            stop_platform(cluster)
            cluster.stop()
            shutil.rmtree(state)
        print("[cluster] stopped; state removed")
        return 0
    cluster = LocalCluster(state, detach=True)
    if args.command == "status":
        running = cluster.running()
        for name, pid in sorted(running.items()):
            print(f"{name}: running (pid {pid})")
        return 0 if running else 1
    try:
        cluster.start()
        extra: dict[str, str] = {}
        if args.platform == "host":
            print(
                "[cluster] mlkube: tracking server and operator as host processes", file=sys.stderr
            )
            extra["MLFLOW_TRACKING_URI"] = start_platform(cluster)
        elif args.platform == "chart":
            print("[cluster] mlkube: helm install charts/mlkube (containers)", file=sys.stderr)
            extra = install_chart(cluster)
    except (StartError, RuntimeError) as err:
        print(f"[cluster] {err}", file=sys.stderr)
        print("[cluster] run `make down` to clean up", file=sys.stderr)
        return 1
    if "MLFLOW_TRACKING_URI" in extra:
        extra["MLFLOW_TRACKING_TOKEN"] = local_user_token(cluster)
    cluster.write_env_file(state / "env", extra)
    if "MLFLOW_TRACKING_URI" in extra:
        print(f"[cluster] MLflow tracking server: {extra['MLFLOW_TRACKING_URI']}")
    print(f"[cluster] up. Use it with:  source {state / 'env'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
