"""`python -m e2e.cluster.agent --root DIR --kubeconfig FILE ...`: run the node agent."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from e2e.cluster.agent.app import AgentConfig, NodeAgent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.cluster.agent", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="state: pods, volumes, logs")
    parser.add_argument("--kubeconfig", type=Path, required=True, help="the node's credentials")
    parser.add_argument("--node-name", default="mlkube-node")
    parser.add_argument("--node-ip", default="127.0.0.1")
    parser.add_argument("--pod-cidr", required=True, help="loopback range of pod IPs")
    parser.add_argument("--cluster-dns", required=True, help="the cluster DNS address")
    parser.add_argument("--cluster-domain", default="cluster.local")
    parser.add_argument("--port", type=int, required=True, help="the kubelet API (HTTPS)")
    parser.add_argument("--healthz-port", type=int, required=True)
    parser.add_argument("--tls-cert", type=Path, required=True)
    parser.add_argument("--tls-key", type=Path, required=True)
    parser.add_argument("--client-ca", type=Path, required=True)
    parser.add_argument("--kubelet-version", default="v1.32.2")
    parser.add_argument("--minio", type=Path, help="the MinIO binary behind minio/minio images")
    parser.add_argument("--shutdown-grace", type=float, default=5.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(
            "the node agent must run as root: each container gets its own mount and PID "
            "namespaces (CAP_SYS_ADMIN)",
            file=sys.stderr,
        )
        return 1
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    agent = NodeAgent(
        AgentConfig(
            root=args.root,
            kubeconfig=args.kubeconfig,
            node_name=args.node_name,
            node_ip=args.node_ip,
            pod_cidr=args.pod_cidr,
            cluster_dns=args.cluster_dns,
            cluster_domain=args.cluster_domain,
            port=args.port,
            healthz_port=args.healthz_port,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            client_ca=args.client_ca,
            kubelet_version=args.kubelet_version,
            minio=args.minio,
            shutdown_grace=args.shutdown_grace,
        )
    )
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
