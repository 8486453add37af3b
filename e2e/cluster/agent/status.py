"""Pod status as the kubelet reports it, computed from what the agent knows of each container.

Pure: the pod, the container records and the clock go in, a ``PodStatus`` comes out. The rules
(phase, the four kubelet-owned conditions, their reasons and messages, the order of container
statuses) follow the kubelet's ``getPhase`` and ``status/generate.go``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from e2e.cluster.agent import quantity
from e2e.cluster.agent.model import (
    Container,
    ContainerState,
    ContainerStateWaiting,
    ContainerStatus,
    Pod,
    PodCondition,
    PodIP,
    PodStatus,
)

TERMINAL = ("Succeeded", "Failed")
KUBELET_CONDITIONS = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)


@dataclass
class ContainerRecord:
    """The agent's knowledge of one container of a pod (mutated only by its pod worker)."""

    name: str
    image: str
    state: ContainerState
    last_state: ContainerState = field(default_factory=ContainerState)
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    container_id: str | None = None
    image_id: str = ""

    def to_status(self) -> ContainerStatus:
        return ContainerStatus(
            name=self.name,
            state=self.state,
            last_state=self.last_state,
            ready=self.ready,
            started=self.started,
            restart_count=self.restart_count,
            image=self.image,
            image_id=self.image_id,
            container_id=self.container_id,
        )


def is_sidecar(container: Container) -> bool:
    return container.restart_policy == "Always"


def initial_state(pod: Pod) -> ContainerState:
    """A container not created yet: PodInitializing if the pod has init containers."""
    reason = "PodInitializing" if pod.spec.init_containers else "ContainerCreating"
    return ContainerState(waiting=ContainerStateWaiting(reason=reason))


def _has_stopped(status: ContainerStatus) -> bool:
    """Terminated now, or waiting to restart after having terminated."""
    return status.state.terminated is not None or (
        status.state.waiting is not None and status.last_state.terminated is not None
    )


def _exit_code(status: ContainerStatus) -> int:
    terminated = status.state.terminated or status.last_state.terminated
    return terminated.exit_code if terminated else 0


def phase(pod: Pod, statuses: dict[str, ContainerStatus], terminal: bool) -> str:
    """The kubelet's getPhase."""
    spec = pod.spec
    pending_init = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for container in spec.init_containers:
        cs = statuses.get(container.name)
        if is_sidecar(container):
            if cs is None:
                unknown += 1
            elif cs.state.running is not None:
                running += 1
                if not cs.started:
                    pending_init += 1
            elif cs.state.waiting is not None and cs.last_state.terminated is None:
                pending_init += 1
                waiting += 1
            continue
        if cs is None or cs.state.running is not None:
            pending_init += 1
        elif _has_stopped(cs):
            if _exit_code(cs) != 0:
                failed_init += 1
        else:
            pending_init += 1
    for container in spec.containers:
        cs = statuses.get(container.name)
        if cs is None:
            unknown += 1
        elif cs.state.running is not None:
            running += 1
        elif _has_stopped(cs):
            stopped += 1
            if cs.state.terminated is not None and cs.state.terminated.exit_code == 0:
                succeeded += 1
        else:
            waiting += 1
    if failed_init > 0 and spec.restart_policy == "Never":
        return "Failed"
    any_regular_started = any(
        (cs := statuses.get(c.name)) is not None
        and (cs.state.running is not None or _has_stopped(cs))
        for c in spec.containers
    )
    if (pending_init > 0 and not any_regular_started) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if spec.restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if spec.restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _names(names: list[str]) -> str:
    """Go's %s of a []string: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def _summary(
    kind: str, reason: str, unknown: list[str], bad: tuple[str, list[str]]
) -> PodCondition:
    """True, or False naming the containers of unknown and of ``bad`` status."""
    label, names = bad
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if names:
        messages.append(f"containers with {label} status: {_names(names)}")
    if messages:
        return PodCondition(type=kind, status="False", reason=reason, message=", ".join(messages))
    return PodCondition(type=kind, status="True")


def _containers_ready(pod: Pod, statuses: dict[str, ContainerStatus], phase_: str) -> PodCondition:
    if phase_ in TERMINAL:
        reason = "PodCompleted" if phase_ == "Succeeded" else "PodFailed"
        return PodCondition(type="ContainersReady", status="False", reason=reason)
    unknown: list[str] = []
    unready: list[str] = []
    relevant = [c for c in pod.spec.init_containers if is_sidecar(c)] + pod.spec.containers
    for container in relevant:
        cs = statuses.get(container.name)
        if cs is None:
            unknown.append(container.name)
        elif not cs.ready:
            unready.append(container.name)
    return _summary("ContainersReady", "ContainersNotReady", unknown, ("unready", unready))


def _ready(
    pod: Pod, containers_ready: PodCondition, others: Sequence[PodCondition]
) -> PodCondition:
    if containers_ready.status != "True":
        return containers_ready.model_copy(update={"type": "Ready"})
    present = {c.type: c for c in others}
    messages = []
    for gate in pod.spec.readiness_gates:
        condition = present.get(gate.condition_type)
        if condition is None:
            messages.append(
                f'corresponding condition of pod readiness gate "{gate.condition_type}" '
                "does not exist."
            )
        elif condition.status != "True":
            messages.append(
                f'the status of pod readiness gate "{gate.condition_type}" is not "True", '
                f"but {condition.status}"
            )
    if messages:
        return PodCondition(
            type="Ready",
            status="False",
            reason="ReadinessGatesNotReady",
            message=", ".join(messages),
        )
    return PodCondition(type="Ready", status="True")


def _initialized(pod: Pod, statuses: dict[str, ContainerStatus], phase_: str) -> PodCondition:
    unknown: list[str] = []
    incomplete: list[str] = []
    for container in pod.spec.init_containers:
        cs = statuses.get(container.name)
        if cs is None:
            unknown.append(container.name)
        elif not (cs.started if is_sidecar(container) else cs.ready):
            incomplete.append(container.name)
    if phase_ == "Succeeded" and not unknown:
        return PodCondition(type="Initialized", status="True", reason="PodCompleted")
    if any(
        (cs := statuses.get(c.name)) is not None
        and (cs.state.running is not None or _has_stopped(cs))
        for c in pod.spec.containers
    ):
        return PodCondition(type="Initialized", status="True")
    return _summary("Initialized", "ContainersNotInitialized", unknown, ("incomplete", incomplete))


def qos_class(pod: Pod) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = [*pod.spec.init_containers, *pod.spec.containers]
    if not any(c.resources.requests or c.resources.limits for c in containers):
        return "BestEffort"
    for c in containers:
        for resource in ("cpu", "memory"):
            limit = c.resources.limits.get(resource)
            request = c.resources.requests.get(resource, limit)
            if limit is None or request is None:
                return "Burstable"
            if quantity.parse(request) != quantity.parse(limit):
                return "Burstable"
    return "Guaranteed"


def _keep_transition_times(
    conditions: Iterable[PodCondition], previous: Sequence[PodCondition], now: str
) -> list[PodCondition]:
    before = {c.type: c for c in previous}
    out = []
    for condition in conditions:
        old = before.get(condition.type)
        since = (
            old.last_transition_time if old is not None and old.status == condition.status else None
        )
        out.append(condition.model_copy(update={"last_transition_time": since or now}))
    return out


@dataclass(frozen=True)
class Observed:
    """What the pod worker observed, besides the container records."""

    now: str
    host_ip: str
    pod_ip: str | None
    start_time: str
    sandbox_ready: bool
    terminal: bool = False
    reason: str | None = None
    message: str | None = None


def pod_status(pod: Pod, records: Iterable[ContainerRecord], observed: Observed) -> PodStatus:
    """The status the kubelet would report for ``pod``."""
    by_name = {r.name: r.to_status() for r in records}
    for container in pod.spec.init_containers:
        cs = by_name.get(container.name)
        if cs is not None and not is_sidecar(container):
            # An init container is ready once it has completed.
            done = cs.state.terminated is not None and cs.state.terminated.exit_code == 0
            by_name[container.name] = cs.model_copy(update={"ready": done})
    init_names = [c.name for c in pod.spec.init_containers]
    init_statuses = [by_name[n] for n in init_names if n in by_name]
    statuses = sorted((s for n, s in by_name.items() if n not in init_names), key=lambda s: s.name)
    new_phase = phase(pod, by_name, observed.terminal)
    if observed.terminal and observed.reason:
        # Stopped by the node for a reason (deadline exceeded): the pod failed.
        new_phase = "Failed"
    previous = pod.status
    if previous.phase in TERMINAL:
        # A pod never leaves a terminal phase.
        new_phase = previous.phase
    others = [c for c in previous.conditions if c.type not in KUBELET_CONDITIONS]
    containers_ready = _containers_ready(pod, by_name, new_phase)
    generated = [
        PodCondition(
            type="PodReadyToStartContainers",
            status="True" if observed.sandbox_ready else "False",
        ),
        _initialized(pod, by_name, new_phase),
        _ready(pod, containers_ready, others),
        containers_ready,
        PodCondition(type="PodScheduled", status="True"),
    ]
    conditions = others + _keep_transition_times(generated, previous.conditions, observed.now)
    reason, message = observed.reason, observed.message
    if reason is None and new_phase == previous.phase:
        reason, message = previous.reason, previous.message
    pod_ips = [PodIP(ip=observed.pod_ip)] if observed.pod_ip else None
    return PodStatus(
        phase=new_phase,
        conditions=conditions,
        reason=reason,
        message=message,
        host_ip=observed.host_ip,
        host_ips=[PodIP(ip=observed.host_ip)],
        pod_ip=observed.pod_ip,
        pod_ips=pod_ips,
        start_time=observed.start_time,
        init_container_statuses=init_statuses if pod.spec.init_containers else None,
        container_statuses=statuses,
        qos_class=qos_class(pod),
    )
