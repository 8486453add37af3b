"""How a followed Run's pods are read: which have started, which never will, why one waits; and
what a prediction request becomes."""

from __future__ import annotations

from typing import Any

from mlkube.client.logs import _started, _why_waiting
from mlkube.client.serving import request_body


def pod(phase: str, main: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    statuses = [{"name": "main", "state": main}] if main is not None else []
    return {
        "metadata": {"name": "p", **meta},
        "status": {"phase": phase, "containerStatuses": statuses},
    }


def test_a_container_has_started_once_it_runs_or_ran() -> None:
    assert _started(pod("Running", {"running": {}}), "main") is True
    assert _started(pod("Failed", {"terminated": {"exitCode": 1}}), "main") is True
    assert _started(pod("Pending", {"waiting": {"reason": "PodInitializing"}}), "main") is False


def test_a_pod_that_ended_or_goes_before_its_container_ran_never_starts_it() -> None:
    assert _started(pod("Failed", {"waiting": {"reason": "PodInitializing"}}), "main") is None
    assert _started(pod("Pending", deletionTimestamp="2026-01-01T00:00:00Z"), "main") is None


def test_why_a_pod_waits() -> None:
    waiting = pod("Pending", {"waiting": {"reason": "ErrImagePull", "message": "no such image"}})
    assert _why_waiting(waiting, "main") == "pod p: main: ErrImagePull no such image"
    assert _why_waiting(pod("Pending"), "main") == "pod p: Pending, waiting for container main"


def test_a_request_is_sent_as_a_json_value() -> None:
    import pandas as pd

    frame = pd.DataFrame([[1.0, 2.0]], columns=["a", "b"])
    assert request_body(frame) == {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}
    assert request_body(b'{"inputs": [1]}') == {"inputs": [1]}
    assert request_body({"instances": [[1]]}) == {"instances": [[1]]}
