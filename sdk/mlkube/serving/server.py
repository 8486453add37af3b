"""Running the scoring server: uvicorn workers, draining, and a graceful stop.

One worker runs in this process. Several workers are spawned processes sharing one listening
socket (bound here); each loads the model itself. On SIGTERM (or SIGINT) each worker:

1. answers 503 on ``/health`` for ``shutdown_delay`` seconds while still scoring,
   so a load balancer (a Kubernetes Service) stops routing to it first;
2. stops accepting connections, finishes the requests in flight (up to ``graceful_timeout``
   seconds) and exits.

The supervising process forwards the signal, waits for the workers with a bound, and kills any
that outlive it. A worker that dies on its own ends the server (exit 1), so the pod restarts.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from mlkube.serving.bounded import MAX_BODY, MAX_IN_FLIGHT

if TYPE_CHECKING:
    from mlkube.serving.app import ScoringApp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    model_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    timeout: float = 60.0
    shutdown_delay: float = 0.0
    graceful_timeout: float = 30.0
    log_level: str = "warning"
    max_body_bytes: int = MAX_BODY
    max_in_flight: int = MAX_IN_FLIGHT


class _DrainingServer(uvicorn.Server):
    """uvicorn's server, with a period of 503 health answers between SIGTERM and the stop."""

    def __init__(self, config: uvicorn.Config, app: ScoringApp, options: ServeOptions) -> None:
        super().__init__(config)
        self.app = app
        self.options = options
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = self.app
        if self._draining or self.options.shutdown_delay <= 0:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        app.draining = True
        timer = threading.Timer(self.options.shutdown_delay, super().handle_exit, (sig, frame))
        timer.daemon = True
        timer.start()


def run_worker(options: ServeOptions, sockets: list[socket.socket] | None = None) -> bool:
    """Load the model and serve it until told to stop (in this process); False when the
    server could not start (the port is taken, for one)."""
    from mlkube.models.pyfunc import load_model
    from mlkube.serving.app import ScoringApp

    app = ScoringApp(
        load_model(options.model_dir),
        timeout=options.timeout,
        max_body=options.max_body_bytes,
        max_in_flight=options.max_in_flight,
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(options.graceful_timeout),
        server_header=False,
    )
    server = _DrainingServer(config, app, options)
    # uvicorn re-raises the stop signal once it has shut down, to let the default handler end
    # the process; no-op handlers make a graceful stop end with status 0 instead.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server.run(sockets=sockets)
    return bool(server.started)


def _worker_main(options: ServeOptions, sock: socket.socket) -> None:
    from mlkube.models.errors import ModelError

    logging.basicConfig(level=options.log_level.upper())
    try:
        if not run_worker(options, [sock]):
            raise SystemExit(1)
    except ModelError as err:
        logger.error("cannot load the model in %s: %s", options.model_dir, err)
        raise SystemExit(1) from None


def serve(options: ServeOptions) -> int:
    """Serve until SIGTERM/SIGINT; the exit status of the server."""
    if options.workers <= 1:
        return 0 if run_worker(options) else 1
    return _supervise(options)


def _bind(options: ServeOptions) -> socket.socket:
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.host, options.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _supervise(options: ServeOptions) -> int:
    sock = _bind(options)
    # Each worker writes its metric samples here; /metrics in any worker sums them.
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.TemporaryDirectory(prefix="mlkube-serve-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker_main, args=(options, sock), name=f"mlkube-serve-{i}")
        for i in range(options.workers)
    ]
    stopping = threading.Event()

    def stop(sig: int, frame: FrameType | None) -> None:
        stopping.set()
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.start()
    status = 0
    try:
        while not stopping.is_set():
            ended = wait([w.sentinel for w in workers], timeout=0.5)
            if ended and not stopping.is_set():
                logger.error("a worker exited unexpectedly; stopping the server")
                status = 1
                stop(signal.SIGTERM, None)
        deadline = options.shutdown_delay + options.graceful_timeout + 5
        for worker in workers:
            worker.join(timeout=deadline)
            if worker.is_alive():
                logger.warning("worker %s did not stop in %ss; killing it", worker.pid, deadline)
                worker.kill()
                worker.join(timeout=5)
    finally:
        sock.close()
        if metrics_dir is not None:
            metrics_dir.cleanup()
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return status
