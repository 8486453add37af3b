"""Data-parallel linear regression across the ranks of a distributed Run, with numpy only.

Every rank holds one shard of the same synthetic data set. Each step, each rank computes the
gradient of the squared error on its shard; rank 0 adds them up (in rank order, so every rank
gets the very same bytes back) and sends the sum to all; every rank then takes the same step.
That is what torch.distributed's all-reduce does for DDP, here over plain TCP sockets to rank 0
at MASTER_ADDR:MASTER_PORT.

Rank 0 logs to the run with mlflow (mlkube gives only rank 0 the run); every rank prints its
final loss and a digest of its weights on a line starting with FINAL, so they can be compared.
``--fail-rank R`` makes rank R fail before it joins (to see how a failing rank is reported).

Without RANK and WORLD_SIZE (``python train.py``) it trains alone, as one rank of one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import struct
import time

import numpy as np

FEATURES = 5
ROWS = 1200
HEADER = struct.Struct("!Q")  # a message is its length, then float64 values
JOIN_TIMEOUT = 300.0  # how long ranks wait for each other to start, at most


def shard(seed: int, rank: int, world: int) -> tuple[np.ndarray, np.ndarray]:
    """This rank's rows of the data set (rows rank, rank + world, ...), with a bias column."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, FEATURES))
    true_w = rng.normal(size=FEATURES)
    y = x @ true_w + 3.0 + rng.normal(scale=0.1, size=ROWS)
    x = np.hstack([x, np.ones((ROWS, 1))])
    return x[rank::world], y[rank::world]


def send(sock: socket.socket, values: np.ndarray) -> None:
    data = np.ascontiguousarray(values, dtype=np.float64).tobytes()
    sock.sendall(HEADER.pack(len(data)) + data)


def receive(sock: socket.socket) -> np.ndarray:
    (size,) = HEADER.unpack(exact(sock, HEADER.size))
    return np.frombuffer(exact(sock, size), dtype=np.float64)


def exact(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("a peer closed the connection mid-training")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class Hub:
    """Rank 0: accepts one connection per other rank, then sums what they send."""

    def __init__(self, port: int, world: int) -> None:
        self.peers: dict[int, socket.socket] = {}
        with socket.create_server(("", port), reuse_port=False) as server:
            server.settimeout(JOIN_TIMEOUT)
            while len(self.peers) < world - 1:
                conn, _ = server.accept()
                conn.settimeout(JOIN_TIMEOUT)
                self.peers[int(receive(conn)[0])] = conn
        print(f"rank 0: all {world} ranks joined", flush=True)

    def all_reduce(self, local: np.ndarray) -> np.ndarray:
        total = local.copy()
        for rank in sorted(self.peers):
            total += receive(self.peers[rank])
        for rank in sorted(self.peers):
            send(self.peers[rank], total)
        return total


class Spoke:
    """A rank > 0: connected to rank 0, sends its part, gets the sum."""

    def __init__(self, rank: int, address: str, port: int) -> None:
        deadline = time.monotonic() + JOIN_TIMEOUT
        while True:
            try:  # rank 0's name resolves, and it listens, only once its pod has started
                self.sock = socket.create_connection((address, port), timeout=10)
                break
            except OSError as err:
                if time.monotonic() > deadline:
                    raise ConnectionError(f"rank 0 at {address}:{port}: {err}") from err
                time.sleep(1)
        self.sock.settimeout(JOIN_TIMEOUT)
        send(self.sock, np.array([rank], dtype=np.float64))
        print(f"rank {rank}: joined rank 0 at {address}:{port}", flush=True)

    def all_reduce(self, local: np.ndarray) -> np.ndarray:
        send(self.sock, local)
        return receive(self.sock)


class Alone:
    """One rank of one: the sum is its own part."""

    def all_reduce(self, local: np.ndarray) -> np.ndarray:
        return local


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fail-rank", type=int, default=-1)
    args = parser.parse_args()
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if rank == args.fail_rank:
        raise RuntimeError(f"rank {rank} was asked to fail (--fail-rank {args.fail_rank})")
    port = int(os.environ.get("MASTER_PORT", "29500"))
    if world == 1:
        group: Hub | Spoke | Alone = Alone()
    elif rank == 0:
        group = Hub(port, world)
    else:
        group = Spoke(rank, os.environ["MASTER_ADDR"], port)

    x, y = shard(args.seed, rank, world)
    w = np.zeros(x.shape[1])
    tracking = None
    if rank == 0:
        import mlflow  # only rank 0 logs: mlkube gives the run to rank 0 alone

        tracking = mlflow.start_run()
        mlflow.log_params({"steps": args.steps, "lr": args.lr, "world_size": world})
    loss = float("nan")
    for step in range(args.steps):
        residual = x @ w - y
        # Sums over this shard, scaled by all the rows: the ranks' parts add up to the whole.
        local = np.concatenate([2.0 * x.T @ residual / ROWS, [residual @ residual / ROWS]])
        total = group.all_reduce(local)
        gradient, loss = total[:-1], float(total[-1])
        w = w - args.lr * gradient
        if tracking is not None and (step % 5 == 0 or step == args.steps - 1):
            mlflow.log_metric("loss", loss, step=step)
    digest = hashlib.sha256(w.tobytes()).hexdigest()[:16]
    if tracking is not None:
        mlflow.log_metric("final_loss", loss)
        mlflow.log_dict({"weights": w.tolist(), "digest": digest}, "weights.json")
        mlflow.end_run()
    print(
        "FINAL " + json.dumps({"rank": rank, "loss": loss, "digest": digest, "rows": len(y)}),
        flush=True,
    )


if __name__ == "__main__":
    main()
