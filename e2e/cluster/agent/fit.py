"""Does a pod fit the node? The scheduler's filters that matter on one node, as pure functions:
node unschedulable, taints and tolerations, nodeSelector and required node affinity, and resource
requests (cpu, memory, ephemeral-storage, pod count) against the node's allocatable. Pod
(anti-)affinity, topology spread and host ports are not evaluated."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from e2e.cluster.agent import quantity
from e2e.cluster.agent.model import (
    Node,
    NodeSelectorRequirement,
    Pod,
    Taint,
    Toleration,
)

RESOURCES = ("cpu", "memory", "ephemeral-storage")


def requests(pod: Pod) -> dict[str, Fraction]:
    """The pod's effective requests: max(sum of containers (and sidecars), largest init
    container) plus the overhead."""
    total: dict[str, Fraction] = {r: Fraction(0) for r in RESOURCES}
    for container in pod.spec.containers + [
        c for c in pod.spec.init_containers if c.restart_policy == "Always"
    ]:
        for resource in RESOURCES:
            value = container.resources.requests.get(resource)
            if value is not None:
                total[resource] += quantity.parse(value)
    for container in pod.spec.init_containers:
        for resource in RESOURCES:
            value = container.resources.requests.get(resource)
            if value is not None:
                total[resource] = max(total[resource], quantity.parse(value))
    for resource, value in pod.spec.overhead.items():
        if resource in total:
            total[resource] += quantity.parse(value)
    return total


def tolerates(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    for toleration in tolerations:
        if toleration.effect and toleration.effect != taint.effect:
            continue
        if toleration.operator == "Exists":
            if not toleration.key or toleration.key == taint.key:
                return True
        elif toleration.key == taint.key and toleration.value == taint.value:
            return True
    return False


def _matches(requirement: NodeSelectorRequirement, labels: dict[str, str]) -> bool:
    value = labels.get(requirement.key)
    op = requirement.operator
    if op == "In":
        return value is not None and value in requirement.values
    if op == "NotIn":
        return value is None or value not in requirement.values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and requirement.values:
        try:
            left, right = int(value), int(requirement.values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def _affinity_ok(pod: Pod, node: Node) -> bool:
    labels = node.metadata.labels
    if any(labels.get(k) != v for k, v in pod.spec.node_selector.items()):
        return False
    affinity = pod.spec.affinity
    required = (
        affinity.node_affinity.required_during_scheduling_ignored_during_execution
        if affinity and affinity.node_affinity
        else None
    )
    if required is None or not required.node_selector_terms:
        return True
    fields = {"metadata.name": node.metadata.name}
    return any(
        all(_matches(r, labels) for r in term.match_expressions)
        and all(_matches(r, fields) for r in term.match_fields)
        for term in required.node_selector_terms
    )


def unfit(pod: Pod, node: Node, others: Iterable[Pod]) -> list[str]:
    """Why ``pod`` cannot go to ``node`` beside ``others`` (the pods there); [] if it can."""
    reasons = []
    tolerations = pod.spec.tolerations
    if node.spec.unschedulable and not tolerates(
        tolerations, Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
    ):
        reasons.append("node(s) were unschedulable")
    for taint in node.spec.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            reasons.append(f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}")
    if not _affinity_ok(pod, node):
        reasons.append("node(s) didn't match Pod's node affinity/selector")
    others = list(others)
    allocatable = node.status.allocatable
    if "pods" in allocatable and len(others) + 1 > quantity.parse(allocatable["pods"]):
        reasons.append("Too many pods")
    wanted = requests(pod)
    used = {r: Fraction(0) for r in RESOURCES}
    for other in others:
        for resource, value in requests(other).items():
            used[resource] += value
    for resource in RESOURCES:
        if not wanted[resource] or resource not in allocatable:
            continue
        if used[resource] + wanted[resource] > quantity.parse(allocatable[resource]):
            reasons.append(f"Insufficient {resource}")
    return reasons


def message(reasons: list[str]) -> str:
    """kube-scheduler's FailedScheduling text for one node."""
    counted = ", ".join(f"1 {r}" for r in sorted(reasons))
    return (
        f"0/1 nodes are available: {counted}. preemption: 0/1 nodes are available: "
        "1 Preemption is not helpful for scheduling."
    )
