"""Fault tier (issue 17): the session's local cluster and platform (e2e/conftest.py), with
one component at a time killed, frozen or cut while a load runs, and what was acknowledged
counted afterwards. Every test restarts what it kills (components.restored) and bounds every
wait; each records a Tally, and the session ends with their table."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from e2e.cluster.cluster import LocalCluster
from e2e.faults.tally import TALLIES, table

# Before the test modules import mlflow: its telemetry thread sets and unsets a variable of
# os.environ, and a client iterating os.environ then (requests does, for proxies) fails with
# KeyError: a failure of the test process that the suite would count against the server.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def workspace(namespace: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh namespace that the session's MLflow clients use as their workspace."""
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    # The client prints a link for every run it ends; thousands of them say nothing here.
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    return namespace


@pytest.fixture
def platform(operator: LocalCluster) -> Iterator[LocalCluster]:
    """The cluster with mlkube's server and operator running (e2e/conftest.py's ``operator``).
    Every process that ran before the test runs after it: a fault may take down only what the
    test restores (a bystander that exits, as kube-proxy does when its config file is
    rewritten, fails the test that caused it rather than the next one)."""
    before = set(operator.running())
    yield operator
    gone = before - set(operator.running())
    assert not gone, f"these processes died during the test and were not restored: {gone}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section("faults: what each fault cost")
        for line in table(TALLIES):
            terminalreporter.write_line(line)
