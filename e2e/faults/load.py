"""The stock MLflow client's logging loop that the tracking faults run under, and its audit.

One thread logs to one run as a training script does: a metric every step, a parameter every
8th step, an artifact file every 16th, each through `MlflowClient` with the client's own
retries (MLFLOW_HTTP_REQUEST_MAX_RETRIES and backoff, left at their defaults). A call that
returns is an acknowledged write; the ledger keeps each one with what was sent, and the audit
reads the run back and counts what is missing, duplicated or half-written. The loop runs
inside ``with``, which stops it however the test ends.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.tracking import MlflowClient

METRIC = "loss"
PARAM_EVERY = 8
ARTIFACT_EVERY = 16
ARTIFACT_DIR = "files"


def artifact_bytes(step: int) -> bytes:
    """A 64 KiB file whose every line names its step: a truncated copy is told apart."""
    line = f"step {step:06d} of the fault suite's logging loop\n".encode()
    return (line * (65536 // len(line) + 1))[:65536]


@dataclass
class Audit:
    acked: int  # acknowledged writes
    lost: int  # acknowledged, then missing or different
    duplicated: int  # metric points beyond one per step
    half_written: int  # artifacts whose bytes are not what was sent
    failed: int  # writes the client gave up on after its retries (never acknowledged)
    errors: list[str]


@dataclass
class LoggingLoad:
    client: MlflowClient
    run_id: str
    workdir: Path
    steps: int | None = None  # None: until stop()
    step: int = 0
    metrics: dict[int, float] = field(default_factory=dict)  # step -> value, acknowledged
    params: dict[str, str] = field(default_factory=dict)
    artifacts: set[int] = field(default_factory=set)  # steps whose file was acknowledged
    acked_at: list[float] = field(default_factory=list)  # monotonic time of each ack
    failures: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LoggingLoad:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="logging-load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 300) -> None:
        """Stop after the call in flight (which may be retrying) and wait for it."""
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the logging loop did not end within {timeout:.0f}s")

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_for_step(self, step: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.step < step:
            if not self.running() or time.monotonic() > deadline:
                raise TimeoutError(f"the logging loop is at step {self.step}, not {step}")
            time.sleep(0.05)

    def first_ack_after(self, moment: float) -> float | None:
        return next((t for t in self.acked_at if t > moment), None)

    def _call(self, what: str, write: object) -> bool:
        try:
            assert callable(write)
            write()
        except Exception as err:  # the client gave up: not acknowledged, counted
            self.failures[f"{what}: {type(err).__name__}: {str(err)[:160]}"] += 1
            return False
        self.acked_at.append(time.monotonic())
        return True

    def _run(self) -> None:
        base = int(time.time() * 1000)
        while not self._stop.is_set() and (self.steps is None or self.step < self.steps):
            step = self.step
            value = step * 0.5 + 0.25

            def metric(step: int = step, value: float = value) -> None:
                self.client.log_metric(self.run_id, METRIC, value, timestamp=base + step, step=step)

            if self._call("log_metric", metric):
                self.metrics[step] = value
            if step % PARAM_EVERY == 0:
                key, text = f"p{step}", str(step)
                if self._call(
                    "log_param", lambda k=key, t=text: self.client.log_param(self.run_id, k, t)
                ):
                    self.params[key] = text
            if step % ARTIFACT_EVERY == 0:
                path = self.workdir / f"step-{step:06d}.bin"
                path.write_bytes(artifact_bytes(step))
                if self._call(
                    "log_artifact",
                    lambda p=path: self.client.log_artifact(self.run_id, str(p), ARTIFACT_DIR),
                ):
                    self.artifacts.add(step)
            self.step = step + 1

    def acked(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.artifacts)

    def audit(self, client: MlflowClient, download_to: Path) -> Audit:
        """Read the run back through ``client`` and count what the ledger says is missing."""
        errors: list[str] = []
        history = client.get_metric_history(self.run_id, METRIC)
        by_step: dict[int, list[float]] = {}
        for point in history:
            by_step.setdefault(point.step, []).append(point.value)
        duplicated = sum(len(v) - 1 for v in by_step.values())
        lost_metrics = [s for s, v in self.metrics.items() if v not in by_step.get(s, [])]
        if lost_metrics:
            errors.append(f"metric steps acknowledged but missing: {lost_metrics[:20]}")
        run = client.get_run(self.run_id)
        if history:
            newest = max(history, key=lambda p: (p.step, p.timestamp))
            if run.data.metrics.get(METRIC) != newest.value:
                errors.append(
                    f"latest {METRIC} is {run.data.metrics.get(METRIC)}, history's newest "
                    f"point is {newest.value}"
                )
        lost_params = [k for k, v in self.params.items() if run.data.params.get(k) != v]
        if lost_params:
            errors.append(f"params acknowledged but missing: {lost_params}")
        stored = {
            int(Path(f.path).stem.removeprefix("step-"))
            for f in client.list_artifacts(self.run_id, ARTIFACT_DIR)
        }
        lost_files = sorted(self.artifacts - stored)
        if lost_files:
            errors.append(f"artifacts acknowledged but missing: {lost_files}")
        half = 0
        if stored:
            local = Path(client.download_artifacts(self.run_id, ARTIFACT_DIR, str(download_to)))
            for step in sorted(stored):
                if (local / f"step-{step:06d}.bin").read_bytes() != artifact_bytes(step):
                    half += 1
                    errors.append(f"artifact of step {step} is not the bytes sent")
        return Audit(
            acked=self.acked(),
            lost=len(lost_metrics) + len(lost_params) + len(lost_files),
            duplicated=duplicated,
            half_written=half,
            failed=sum(self.failures.values()),
            errors=errors + [f"{n} x {what}" for what, n in self.failures.items()],
        )
