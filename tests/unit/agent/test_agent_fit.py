from __future__ import annotations

import yaml
from e2e.cluster.agent import fit
from e2e.cluster.agent.model import Node, Pod

NODE = Node.model_validate(
    {
        "metadata": {
            "name": "n",
            "labels": {"kubernetes.io/os": "linux", "disk": "ssd", "gen": "3"},
        },
        "spec": {"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]},
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3"}},
    }
)


def pod(spec: str) -> Pod:
    return Pod.model_validate({"metadata": {"name": "p"}, "spec": yaml.safe_load(spec)})


def test_a_plain_pod_fits_an_untainted_node_but_not_a_tainted_one() -> None:
    plain = pod("containers: [{name: c}]")
    untainted = NODE.model_copy(update={"spec": NODE.spec.model_copy(update={"taints": []})})
    assert fit.unfit(plain, untainted, []) == []
    assert fit.unfit(plain, NODE, []) == ["node(s) had untolerated taint {gpu: yes}"]


def test_tolerations_match_key_value_and_effect() -> None:
    exact = pod(
        "containers: [{name: c}]\ntolerations: [{key: gpu, value: 'yes', effect: NoSchedule}]"
    )
    exists = pod("containers: [{name: c}]\ntolerations: [{operator: Exists}]")
    wrong = pod("containers: [{name: c}]\ntolerations: [{key: gpu, value: 'no'}]")
    assert fit.unfit(exact, NODE, []) == []
    assert fit.unfit(exists, NODE, []) == []
    assert fit.unfit(wrong, NODE, []) != []


TOLERATE = "\ntolerations: [{operator: Exists}]"


def test_node_selector_and_required_node_affinity() -> None:
    selected = pod("containers: [{name: c}]\nnodeSelector: {disk: ssd}" + TOLERATE)
    other = pod("containers: [{name: c}]\nnodeSelector: {disk: hdd}" + TOLERATE)
    affinity = pod(
        """
containers: [{name: c}]
tolerations: [{operator: Exists}]
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: gen, operator: Gt, values: ["2"]}
        - {key: zone, operator: DoesNotExist}
"""
    )
    assert fit.unfit(selected, NODE, []) == []
    assert fit.unfit(other, NODE, []) == ["node(s) didn't match Pod's node affinity/selector"]
    assert fit.unfit(affinity, NODE, []) == []


def test_requests_must_fit_beside_the_pods_already_there() -> None:
    big = pod(
        "containers: [{name: c, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]" + TOLERATE
    )
    assert fit.unfit(big, NODE, []) == []
    assert fit.unfit(big, NODE, [big]) == ["Insufficient cpu"]
    small = pod("containers: [{name: c}]" + TOLERATE)
    assert fit.unfit(small, NODE, [small, small, small]) == ["Too many pods"]


def test_effective_requests_take_the_largest_init_container() -> None:
    p = pod(
        """
initContainers: [{name: i, resources: {requests: {cpu: "2"}}}]
containers:
- {name: a, resources: {requests: {cpu: 500m}}}
- {name: b, resources: {requests: {cpu: 500m}}}
overhead: {cpu: 100m}
"""
    )
    assert fit.requests(p)["cpu"] == 2 + fit.Fraction(1, 10)


def test_the_message_reads_like_kube_scheduler() -> None:
    assert fit.message(["Insufficient cpu"]).startswith(
        "0/1 nodes are available: 1 Insufficient cpu."
    )
