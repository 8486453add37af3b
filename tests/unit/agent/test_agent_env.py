from __future__ import annotations

import base64

import pytest
import yaml
from e2e.cluster.agent import env
from e2e.cluster.agent.model import ConfigMap, Pod, Secret, Service


def pod(text: str) -> Pod:
    return Pod.model_validate(yaml.safe_load(text))


def service(namespace: str, name: str, ip: str, ports: list[dict[str, object]]) -> Service:
    return Service.model_validate(
        {
            "metadata": {"namespace": namespace, "name": name},
            "spec": {"clusterIP": ip, "ports": ports},
        }
    )


KUBERNETES = service("default", "kubernetes", "127.10.0.1", [{"name": "https", "port": 443}])
WEB = service("ml", "web-api", "127.10.0.20", [{"name": "http", "port": 80}, {"port": 9090}])
OTHER_NS = service("elsewhere", "db", "127.10.0.30", [{"port": 5432}])


def sources(**kwargs: object) -> env.Sources:
    config_maps = {
        "settings": ConfigMap(
            data={"mode": "fast", "has space": "x", "dashed-key": "y", "URL": "http://$(HOST)"}
        )
    }
    secrets = {"creds": Secret(data={"key": base64.b64encode(b"s3cr3t").decode()})}
    return env.Sources(
        config_map=lambda ns, name: config_maps.get(name),
        secret=lambda ns, name: secrets.get(name),
        services=[KUBERNETES, WEB, OTHER_NS],
        node_allocatable={"cpu": "2", "memory": "4Gi"},
    )


POD = """
metadata: {name: trainer, namespace: ml, uid: u-1, labels: {team: ml, tier: "a b"}}
spec:
  nodeName: node-1
  serviceAccountName: runner
  containers:
  - name: main
    resources: {limits: {memory: 1Gi}, requests: {cpu: 250m}}
    envFrom:
    - configMapRef: {name: settings}
      prefix: CFG_
    env:
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: TEAM, valueFrom: {fieldRef: {fieldPath: "metadata.labels['team']"}}}
    - {name: KEY, valueFrom: {secretKeyRef: {name: creds, key: key}}}
    - {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}
    - {name: MISSING, valueFrom: {configMapKeyRef: {name: nothere, key: k, optional: true}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
    - {name: GREETING, value: "hi $(NAME) at $(WEB_API_SERVICE_HOST), $$(NAME) $(UNDEFINED)"}
status: {podIP: 127.20.0.7, hostIP: 127.0.0.1}
"""


def test_the_environment_is_built_as_the_kubelet_builds_it() -> None:
    p = pod(POD)
    built = env.container_env(p, p.spec.containers[0], sources())
    assert built["NAME"] == "trainer"
    assert built["IP"] == "127.20.0.7"
    assert built["TEAM"] == "ml"
    assert built["KEY"] == "s3cr3t"
    assert built["MODE"] == "fast"
    assert "MISSING" not in built
    assert built["MEM"] == "1024"
    assert built["CPU_LIMIT"] == "2000"  # no limit: the node's allocatable
    assert built["GREETING"] == "hi trainer at 127.10.0.20, $(NAME) $(UNDEFINED)"
    assert built["CFG_mode"] == "fast"
    assert built["CFG_URL"] == "http://$(HOST)"  # envFrom values are not expanded
    assert "CFG_has space" not in built  # not a valid variable name: skipped
    assert built["CFG_dashed-key"] == "y"


def test_service_variables_cover_the_namespace_and_the_kubernetes_service() -> None:
    p = pod(POD)
    built = env.container_env(p, p.spec.containers[0], sources())
    assert built["KUBERNETES_SERVICE_HOST"] == "127.10.0.1"
    assert built["KUBERNETES_SERVICE_PORT"] == "443"
    assert built["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert built["KUBERNETES_PORT_443_TCP"] == "tcp://127.10.0.1:443"
    assert built["WEB_API_SERVICE_HOST"] == "127.10.0.20"
    assert built["WEB_API_SERVICE_PORT"] == "80"
    assert built["WEB_API_PORT"] == "tcp://127.10.0.20:80"
    assert built["WEB_API_PORT_9090_TCP_ADDR"] == "127.10.0.20"
    assert built["WEB_API_PORT_9090_TCP_PROTO"] == "tcp"
    assert not any(k.startswith("DB_") for k in built)


def test_without_service_links_only_the_kubernetes_variables_remain() -> None:
    p = pod(POD.replace("  nodeName: node-1", "  nodeName: node-1\n  enableServiceLinks: false"))
    built = env.container_env(p, p.spec.containers[0], sources())
    assert built["KUBERNETES_SERVICE_HOST"] == "127.10.0.1"
    assert not any(k.startswith("WEB_API_") for k in built)


def test_container_variables_win_over_service_variables() -> None:
    p = pod(
        POD.replace(
            "    - {name: NAME,",
            "    - {name: KUBERNETES_SERVICE_HOST, value: mine}\n    - {name: NAME,",
        )
    )
    built = env.container_env(p, p.spec.containers[0], sources())
    assert built["KUBERNETES_SERVICE_HOST"] == "mine"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: X, valueFrom: {secretKeyRef: {name: nope, key: k}}}", 'secret "nope" not found'),
        (
            "{name: X, valueFrom: {configMapKeyRef: {name: settings, key: nope}}}",
            "couldn't find key nope in ConfigMap ml/settings",
        ),
        ("{name: X, valueFrom: {fieldRef: {fieldPath: spec.bogus}}}", "unsupported fieldRef"),
    ],
)
def test_unresolvable_values_are_configuration_errors(entry: str, message: str) -> None:
    p = pod(POD.replace("    - {name: NAME,", f"    - {entry}\n    - {{name: NAME,"))
    with pytest.raises(env.ConfigError, match=message):
        env.container_env(p, p.spec.containers[0], sources())


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$(A)", "1"),
        ("$(A)$(B)", "12"),
        ("$$(A)", "$(A)"),
        ("$(NOPE)", "$(NOPE)"),
        ("$(A", "$(A"),
        ("cost: $5", "cost: $5"),
        ("trailing $", "trailing $"),
        ("", ""),
    ],
)
def test_expansion_follows_kubernetes_rules(text: str, expanded: str) -> None:
    assert env.expand(text, {"A": "1", "B": "2"}) == expanded


def test_label_and_annotation_files_use_go_quoting() -> None:
    p = pod(POD)
    from e2e.cluster.agent.model import ObjectFieldSelector

    assert (
        env.field_value(p, ObjectFieldSelector(field_path="metadata.labels"))
        == 'team="ml"\ntier="a b"'
    )
