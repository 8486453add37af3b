"""Raw HTTP probes of the tracking server, without the client's retries: what it answers while
a backend is down (status codes, error codes, how long each answer took)."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

# A probe that takes longer than this is a hang, whatever it finally answers.
PROBE_TIMEOUT = 30.0
PROBE_FILE = b"probe\n" * 1000  # what each artifact probe uploads


def auth_headers(workspace: str) -> dict[str, str]:
    """What the stock client sends: the session's token and the workspace."""
    return {
        "Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}",
        "X-MLFLOW-WORKSPACE": workspace,
    }


@dataclass
class Prober:
    """Sends one write of each kind every ``every`` seconds to a run of its own, counting the
    answers by (kind, outcome): ``200``, ``503 TEMPORARILY_UNAVAILABLE``, ``ConnectionError``."""

    uri: str
    workspace: str
    run_id: str
    experiment_id: str
    every: float = 0.5
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    slowest: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Prober:
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(PROBE_TIMEOUT + 10)

    def probe(self, kind: str, method: str, path: str, **kwargs: object) -> int | None:
        started = time.monotonic()
        try:
            response = requests.request(
                method,
                self.uri + path,
                headers=auth_headers(self.workspace),
                timeout=PROBE_TIMEOUT,
                **kwargs,  # type: ignore[arg-type]  # json= or data=
            )
        except requests.RequestException as err:
            self.answers[kind, type(err).__name__] += 1
            return None
        finally:
            self.slowest = max(self.slowest, time.monotonic() - started)
        code = ""
        if response.status_code != 200:
            try:
                code = " " + str(response.json().get("error_code"))
            except ValueError:
                code = " (not JSON)"
        self.answers[kind, f"{response.status_code}{code}"] += 1
        return response.status_code

    def _run(self) -> None:
        step = 0
        while not self._stop.is_set():
            step += 1
            now = int(time.time() * 1000)
            self.probe(
                "log-metric",
                "POST",
                "/api/2.0/mlflow/runs/log-metric",
                json={
                    "run_id": self.run_id,
                    "key": "probe",
                    "value": step,
                    "timestamp": now,
                    "step": step,
                },
            )
            self.probe(
                "log-param",
                "POST",
                "/api/2.0/mlflow/runs/log-parameter",
                json={"run_id": self.run_id, "key": f"p{step}", "value": str(step)},
            )
            self.probe(
                "artifact PUT",
                "PUT",
                f"/api/2.0/mlflow-artifacts/artifacts/{self.experiment_id}/{self.run_id}"
                f"/artifacts/probe/{step}.txt",
                data=PROBE_FILE,
            )
            self._stop.wait(self.every)

    def unexpected(self, allowed: set[str]) -> dict[str, int]:
        """Answers other than 200 and ``allowed`` (e.g. ``{"503 TEMPORARILY_UNAVAILABLE"}``)."""
        return {
            f"{kind}: {outcome}": n
            for (kind, outcome), n in self.answers.items()
            if outcome not in {"200", *allowed}
        }

    def summary(self) -> str:
        return ", ".join(f"{k} {o}: {n}" for (k, o), n in sorted(self.answers.items()))
