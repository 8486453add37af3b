"""Scoring throughput: `mlkube serve` against `mlflow models serve`, same model, same machine.

    python3 bench/serving.py [--duration 10] [--clients 16] [--workers 1] [--rows 1]

Trains an ElasticNet on scikit-learn's diabetes data (no download), saves it with mlflow
(skops, as mlflow 3.17 does by default), serves it with both servers on free 127.0.0.1 ports and
the same number of workers, checks that they answer the same predictions, then drives each in
turn with the same closed-loop load: ``--clients`` keep-alive HTTP/1.1 connections each sending
one ``dataframe_split`` request after another for ``--duration`` seconds (after a warm-up). The
load generator is asyncio over raw sockets in two processes, so it stays out of the servers'
way as much as a Python client can on a small machine. Prints requests/s, p50 and p99 latency,
and the ratio. Both servers are always stopped. Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
LOAD_PROCESSES = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def save_model(directory: Path, rows: int) -> bytes:
    """Train and save the model with mlflow; return the request body to send."""
    import mlflow.sklearn
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import ElasticNet

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    model = ElasticNet(alpha=0.01, random_state=0).fit(features, target)
    mlflow.sklearn.save_model(model, str(directory), input_example=features.head(3))
    sample = features.sample(rows, random_state=1)
    body = {"dataframe_split": {"columns": list(sample.columns), "data": sample.values.tolist()}}
    return json.dumps(body).encode()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def started(name: str, command: list[str], port: int, env: dict[str, str]) -> Iterator[Server]:
    with tempfile.TemporaryFile() as log:
        # A session of its own: `mlflow models serve` runs uvicorn as a child, and the whole
        # group must stop.
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        server = Server(name, port, process)
        try:
            wait_ready(server, log)
            yield server
        finally:
            stop(process)


def wait_ready(server: Server, log: tempfile._TemporaryFileWrapper[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log.seek(0)
            sys.exit(f"{server.name} exited early:\n{log.read().decode(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    sys.exit(f"{server.name} did not answer /ping within {START_TIMEOUT:.0f}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
    except ProcessLookupError:
        pass


def score(port: int, body: bytes) -> list[float]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        predictions: list[float] = json.loads(response.read())["predictions"]
        return predictions


# --- the load generator -------------------------------------------------------------------


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> None:
    length = None
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line[15:])
    if length is not None:
        await reader.readexactly(length)
        return
    # Chunked (MLflow's FastAPI middleware streams its responses).
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


async def _client(port: int, request: bytes, until: float, warm: float, out: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        while True:
            start = time.perf_counter()
            if start >= until:
                return errors
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            await _read_body(reader, head)
            end = time.perf_counter()
            if status != 200:
                errors += 1
            elif start >= warm:
                out.append(end - start)
    finally:
        writer.close()


@dataclass(frozen=True)
class Load:
    port: int
    body: bytes
    clients: int
    warmup: float
    duration: float


def _load_process(load: Load, queue: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port, body = load.port, load.body
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []

    async def main() -> int:
        now = time.perf_counter()
        warm, until = now + load.warmup, now + load.warmup + load.duration
        results = await asyncio.gather(
            *(_client(port, request, until, warm, latencies) for _ in range(load.clients))
        )
        return sum(results)

    errors = asyncio.run(main())
    queue.put((latencies, errors))


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    duration: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration


def drive(server: Server, body: bytes, clients: int, warmup: float, duration: float) -> Result:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    shares = [
        clients // LOAD_PROCESSES + (i < clients % LOAD_PROCESSES) for i in range(LOAD_PROCESSES)
    ]
    processes = [
        context.Process(
            target=_load_process, args=(Load(server.port, body, n, warmup, duration), queue)
        )
        for n in shares
        if n
    ]
    for process in processes:
        process.start()
    latencies: list[float] = []
    errors = 0
    try:
        for _ in processes:
            part, failed = queue.get(timeout=warmup + duration + 60)
            latencies.extend(part)
            errors += failed
    finally:
        for process in processes:
            process.join(timeout=STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join(timeout=STOP_TIMEOUT)
    latencies.sort()
    if not latencies:
        sys.exit(f"{server.name}: no successful request")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(
        server.name,
        len(latencies),
        errors,
        duration,
        statistics.median(latencies) * 1000,
        p99 * 1000,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per server")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per server")
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlkube-bench-") as tmp:
        model_dir = Path(tmp) / "model"
        body = save_model(model_dir, args.rows)
        env = dict(os.environ)
        # mlflow 3.17 refuses to deserialize any model (skops included) without this opt-in.
        env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
        mlflow_port, mlkube_port = free_port(), free_port()
        mlflow_cmd = [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir),
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port),
            "-w", str(args.workers),
        ]  # fmt: skip
        mlkube_cmd = [
            sys.executable, "-m", "mlkube.cli", "serve", str(model_dir),
            "--host", "127.0.0.1", "--port", str(mlkube_port), "--workers", str(args.workers),
        ]  # fmt: skip
        results = []
        with (
            started("mlflow models serve", mlflow_cmd, mlflow_port, env) as mlflow_server,
            started("mlkube serve", mlkube_cmd, mlkube_port, env) as mlkube_server,
        ):
            same = score(mlflow_port, body) == score(mlkube_port, body)
            print(f"model: ElasticNet (diabetes), {args.rows} row(s) per request, skops")
            print(f"predictions identical: {'yes' if same else 'NO'}")
            for server in (mlflow_server, mlkube_server):
                results.append(drive(server, body, args.clients, args.warmup, args.duration))
    print()
    print(
        f"{args.clients} concurrent clients, {args.workers} worker(s) each, "
        f"{args.duration:g}s measured after {args.warmup:g}s warm-up, {os.cpu_count()} CPUs"
    )
    print(f"{'server':<22}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for r in results:
        print(f"{r.name:<22}{r.rps:>12.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.errors:>8}")
    ratio = results[1].rps / results[0].rps
    print(f"mlkube / mlflow requests/s: {ratio:.1f}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
