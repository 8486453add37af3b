"""A Sweep's status and its parent run's lifecycle, from a tally: written once, then nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from mlkube.api.sweep import BestTrial, SweepPhase
from mlkube_operator.controllers.sweep_plan import Tally
from mlkube_operator.controllers.sweep_status import parent_status, sweep_events, sweep_status

AT = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 1, 2, tzinfo=UTC)
COUNTS = {"trials": 3, "running": 0, "succeeded": 2, "failed": 1, "killed": 0, "pruned": 0}
BEST = BestTrial(run="s-t1", trial=1, run_id="a" * 32, parameters={"alpha": "0.5"}, value=1.5)


def test_the_status_says_the_tally_once_and_then_nothing() -> None:
    tally = Tally(SweepPhase.SUCCEEDED, COUNTS, "3/3", BEST)
    status = sweep_status({}, tally, "b" * 32, 2, AT)
    assert status is not None
    assert status["best"] == {
        "run": "s-t1",
        "trial": 1,
        "runId": "a" * 32,
        "parameters": {"alpha": "0.5"},
        "value": 1.5,
    }
    assert (status["phase"], status["progress"], status["observedGeneration"]) == (
        "Succeeded",
        "3/3",
        2,
    )
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Complete": "True",
    }
    assert sweep_status(status, tally, "b" * 32, 2, LATER) is None


def test_a_failed_sweep_is_not_ready_and_says_why() -> None:
    tally = Tally(SweepPhase.FAILED, COUNTS, "3/3", None, message="2 trials failed")
    status = sweep_status({}, tally, None, 1, AT)
    assert status is not None
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "TooManyFailures",
        "2 trials failed",
    )
    assert status["best"] is None  # a merge patch that removes a stale best


def test_events_follow_changes_of_phase_only() -> None:
    done = Tally(SweepPhase.SUCCEEDED, COUNTS, "3/3", BEST)
    assert sweep_events({"phase": "Running"}, done) == [
        ("Normal", "SweepSucceeded", "3/3 trials finished; best 1.5 (s-t1)")
    ]
    assert sweep_events({"phase": "Succeeded"}, done) == []


def test_the_parent_run_starts_with_the_sweep_and_keeps_its_end_time() -> None:
    running = parent_status({}, "c" * 32, SweepPhase.RUNNING, "2026-01-01T00:00:00Z", "u", AT)
    assert running == {
        "runId": "c" * 32,
        "phase": "Running",
        "startTime": "2026-01-01T00:00:00Z",
        "endTime": None,
        "artifactUri": "u",
    }
    assert parent_status(running, "c" * 32, SweepPhase.RUNNING, None, "u", LATER) is None
    ended = parent_status(running, "c" * 32, SweepPhase.FAILED, None, "u", AT)
    assert ended is not None
    assert (ended["phase"], ended["endTime"]) == ("Failed", "2026-01-01T00:00:00Z")
    assert parent_status(ended, "c" * 32, SweepPhase.FAILED, None, "u", LATER) is None
