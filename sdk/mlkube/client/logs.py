"""A Run's output: its pods' ``main`` container's log, read or followed through the API server.

A project Run's Job labels its pods ``mlkube.io/run=<run name>``; with ``backoffLimit`` retries
there are several, read oldest first. Following waits for each container to start (reporting why
it has not: ContainerCreating, ImagePullBackOff, ...), streams it to its end, and returns once the
Run has ended and every pod's output has been read (RBAC: get on pods/log, which Kubernetes' view
role grants).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from mlkube import layout
from mlkube.api import Run
from mlkube.client.collection import Collection
from mlkube.client.errors import Invalid, NotFound, WaitTimeout
from mlkube.client.kube import Kube, Obj

MAIN = "main"
TERMINAL = frozenset({"Succeeded", "Failed", "Killed"})
POLL = 1.0
# Called with a sentence while a followed log waits (a pod not started yet).
Waiting = Callable[[str], None]


def _started(pod: Obj, container: str) -> bool | None:
    """True once the container ran (running or ended); False while it may still start; None
    when it never will (the pod ended first, say in its init container)."""
    status = pod.get("status") or {}
    for item in status.get("containerStatuses") or []:
        if item.get("name") == container:
            state = item.get("state") or {}
            if "running" in state or "terminated" in state:
                return True
    gone = status.get("phase") in {"Succeeded", "Failed"}
    return None if gone or (pod.get("metadata") or {}).get("deletionTimestamp") else False


def _why_waiting(pod: Obj, container: str) -> str:
    """What the pod is waiting for, as `kubectl get pods` would say it."""
    status = pod.get("status") or {}
    name = (pod.get("metadata") or {}).get("name")
    for item in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (item.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            detail = waiting.get("message") or ""
            return f"pod {name}: {item.get('name')}: {waiting['reason']} {detail}".strip()
    return f"pod {name}: {status.get('phase') or 'Pending'}, waiting for container {container}"


def _by_age(pods: list[Obj]) -> list[Obj]:
    return sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp")))


def run_logs(
    kube: Kube,
    runs: Collection[Run],
    name: str,
    *,
    follow: bool = False,
    container: str = MAIN,
    timeout: float = 3600,
    waiting: Waiting | None = None,
) -> Iterator[str]:
    """The lines the Run's pods wrote (without their newlines); with ``follow``, until the Run
    has ended. WaitTimeout when it has not ended after ``timeout`` seconds."""
    namespace = runs.namespace
    run = runs.get(name)
    if run.spec.project is None:
        raise Invalid(
            f"Run {name!r} is tracking-only (an MLflow client made it): it runs no pods, so it "
            "has no logs; its params and metrics are in `mlkube runs get`"
        )
    selector = f"{layout.RUN_LABEL}={name}"
    if not follow:
        pods = _by_age(kube.pods(namespace, selector))
        if not pods:
            raise NotFound(
                f"Run {name!r} has no pods in namespace {namespace} "
                + (
                    "(not started yet); follow it with --follow"
                    if run.status.phase not in TERMINAL
                    else "any more (its Job was deleted); the run's message: "
                    + (run.status.message or "none")
                ),
                kind="Pod",
            )
        for pod in pods:
            if _started(pod, container):
                yield from kube.log_lines(namespace, _name(pod), container, follow=False)
        return
    yield from _follow(
        kube,
        runs,
        name,
        selector=selector,
        container=container,
        timeout=timeout,
        waiting=waiting,
    )


def _follow(
    kube: Kube,
    runs: Collection[Run],
    name: str,
    *,
    selector: str,
    container: str,
    timeout: float,
    waiting: Waiting | None,
) -> Iterator[str]:
    namespace = runs.namespace
    deadline = time.monotonic() + timeout
    done: set[str] = set()
    while time.monotonic() < deadline:
        ended = runs.get(name).status.phase in TERMINAL
        pending = [p for p in _by_age(kube.pods(namespace, selector)) if _name(p) not in done]
        for pod in pending:
            started = _started(pod, container)
            if started is None or (not started and ended):
                done.add(_name(pod))  # it never will: the pod or the Run ended first
                continue
            if not started:
                if waiting is not None:
                    waiting(_why_waiting(pod, container))
                break  # look again in a moment, oldest pod first
            # Quiet for the rest of the time allowed: the deadline below ends the wait.
            left = deadline - time.monotonic()
            yield from kube.log_lines(namespace, _name(pod), container, follow=True, quiet=left)
            done.add(_name(pod))
        else:
            if ended:
                return
        if not done and not pending and waiting is not None and not ended:
            waiting(f"Run {name}: waiting for its pod")
        time.sleep(POLL)
    raise WaitTimeout(
        f"Run {name!r} in namespace {namespace} has not ended after {timeout:g}s; follow it "
        "longer (--timeout) or cancel it (`mlkube runs cancel`)"
    )


def _name(obj: Obj | Any) -> str:
    return str((obj.get("metadata") or {}).get("name"))
