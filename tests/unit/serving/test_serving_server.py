"""The stop sequence of a worker: drain (health 503) for the delay, then uvicorn's graceful exit.
No server is started: the signal handler is called directly."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import uvicorn

from mlkube.models import load_model
from mlkube.serving.app import ScoringApp
from mlkube.serving.server import ServeOptions, _DrainingServer


def server(sklearn_dir: Path, delay: float) -> tuple[_DrainingServer, ScoringApp]:
    app = ScoringApp(load_model(sklearn_dir))
    options = ServeOptions(model_dir=sklearn_dir, shutdown_delay=delay)
    return _DrainingServer(uvicorn.Config(app), app, options), app


def test_sigterm_drains_first_then_exits(sklearn_dir: Path) -> None:
    worker, app = server(sklearn_dir, delay=0.2)
    worker.handle_exit(signal.SIGTERM, None)
    assert app.draining
    assert not worker.should_exit
    deadline = time.monotonic() + 5
    while not worker.should_exit and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker.should_exit


def test_a_second_signal_or_no_delay_exits_at_once(sklearn_dir: Path) -> None:
    worker, app = server(sklearn_dir, delay=30)
    worker.handle_exit(signal.SIGTERM, None)
    worker.handle_exit(signal.SIGTERM, None)
    assert worker.should_exit
    immediate, app = server(sklearn_dir, delay=0)
    immediate.handle_exit(signal.SIGTERM, None)
    assert immediate.should_exit
    assert not app.draining
