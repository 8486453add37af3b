"""A container's environment, built the way the kubelet builds it.

Order and precedence: ``envFrom`` sources in order, then ``env`` in order (later wins), each value
``$(VAR)``-expanded against what is defined so far and the service variables; then the service
variables (``<SVC>_SERVICE_HOST`` ..., for every Service of the pod's namespace when
``enableServiceLinks``, and always for the ``kubernetes`` Service) for names not already defined.
``KUBERNETES_SERVICE_HOST``/``_PORT`` therefore point at the ``kubernetes`` Service's ClusterIP,
which the agent's service proxy forwards to the API server, so in-cluster clients work unchanged.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from e2e.cluster.agent import quantity
from e2e.cluster.agent.model import (
    ConfigMap,
    Container,
    EnvVarSource,
    ObjectFieldSelector,
    Pod,
    ResourceFieldSelector,
    Secret,
    Service,
)


class ConfigError(Exception):
    """The container cannot be configured yet (kubelet: CreateContainerConfigError)."""


@dataclass(frozen=True)
class Sources:
    """Where values come from: lookups return None for an object that does not exist."""

    config_map: Callable[[str, str], ConfigMap | None]
    secret: Callable[[str, str], Secret | None]
    services: list[Service]
    node_allocatable: Mapping[str, str]


_VAR = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def expand(text: str, lookup: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, ``$$`` is a literal ``$``,
    and anything else (an undefined name, an unclosed reference) is left as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end == -1:
                out.append(text[i:])
                break
            name = text[i + 2 : end]
            out.append(lookup[name] if name in lookup else text[i : end + 1])
            i = end + 1
        else:
            out.append("$")
            i += 1
    return "".join(out)


def service_variables(services: list[Service]) -> dict[str, str]:
    """Docker-links style variables for ``services`` (those with a ClusterIP)."""
    env: dict[str, str] = {}
    for service in sorted(services, key=lambda s: s.metadata.name):
        if service.headless or not service.spec.ports:
            continue
        prefix = service.metadata.name.upper().replace("-", "_")
        ip = service.spec.cluster_ip
        first = service.spec.ports[0]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(first.port)
        for port in service.spec.ports:
            if port.name:
                env[f"{prefix}_SERVICE_PORT_{port.name.upper().replace('-', '_')}"] = str(port.port)
        env[f"{prefix}_PORT"] = f"{first.protocol.lower()}://{ip}:{first.port}"
        for port in service.spec.ports:
            base = f"{prefix}_PORT_{port.port}_{port.protocol.upper()}"
            env[base] = f"{port.protocol.lower()}://{ip}:{port.port}"
            env[f"{base}_PROTO"] = port.protocol.lower()
            env[f"{base}_PORT"] = str(port.port)
            env[f"{base}_ADDR"] = ip
    return env


def visible_services(pod: Pod, services: list[Service]) -> list[Service]:
    """The Services whose variables a pod gets: its namespace's (with service links) and
    ``default/kubernetes``, the namespace's own Service of that name taking precedence."""
    ns = pod.metadata.namespace
    chosen: dict[str, Service] = {}
    for service in services:
        meta = service.metadata
        if meta.namespace == "default" and meta.name == "kubernetes":
            chosen.setdefault("kubernetes", service)
        if meta.namespace == ns and (pod.spec.enable_service_links or meta.name == "kubernetes"):
            chosen[meta.name] = service
    return list(chosen.values())


def field_value(pod: Pod, selector: ObjectFieldSelector) -> str:
    """A downward-API field of ``pod``."""
    path = selector.field_path
    meta = pod.metadata
    simple = {
        "metadata.name": meta.name,
        "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name,
        "status.hostIP": pod.status.host_ip or "",
        "status.podIP": pod.status.pod_ip or "",
    }
    if path in simple:
        return simple[path]
    if path == "status.podIPs":
        return ",".join(ip.ip for ip in pod.status.pod_ips or [])
    if path == "status.hostIPs":
        return ",".join(ip.ip for ip in pod.status.host_ips or [])
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.labels if path == "metadata.labels" else meta.annotations
        return "\n".join(f"{k}={_go_quote(v)}" for k, v in sorted(values.items()))
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if match:
        values = meta.labels if match.group(1) == "labels" else meta.annotations
        return values.get(match.group(2), "")
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")


def _go_quote(value: str) -> str:
    """Go's %q for the characters a label or annotation value holds."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped.replace(chr(9), chr(92) + "t")}"'


def resource_value(
    pod: Pod,
    container: Container | None,
    selector: ResourceFieldSelector,
    allocatable: Mapping[str, str],
) -> str:
    """A resourceFieldRef: the container's request or limit divided (rounding up) by the divisor;
    a limit that is not set is the node's allocatable amount, as on a kubelet."""
    name = selector.container_name or (container.name if container else "")
    target = pod.container(name)
    if target is None:
        raise ConfigError(f"resourceFieldRef names unknown container {name!r}")
    kind, _, resource = selector.resource.partition(".")
    if kind not in ("limits", "requests") or not resource:
        raise ConfigError(f"unsupported resourceFieldRef resource {selector.resource!r}")
    values = target.resources.limits if kind == "limits" else target.resources.requests
    value: str | int | None = values.get(resource)
    if value is None and kind == "requests":
        value = target.resources.limits.get(resource)
    if value is None:
        value = allocatable.get(resource, "0") if kind == "limits" else "0"
    return str(quantity.ceil_divide(value, selector.divisor))


def _decode(secret: Secret, key: str) -> str:
    try:
        return base64.b64decode(secret.data[key]).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError) as err:
        raise ConfigError(f'secret "{secret.metadata.name}" key {key!r} is not base64') from err


def _value_from(
    pod: Pod, container: Container, source: EnvVarSource, sources: Sources
) -> str | None:
    ns = pod.metadata.namespace
    if source.field_ref:
        return field_value(pod, source.field_ref)
    if source.resource_field_ref:
        return resource_value(pod, container, source.resource_field_ref, sources.node_allocatable)
    values: dict[str, str] | None
    if source.config_map_key_ref:
        ref, kind = source.config_map_key_ref, "ConfigMap"
        config_map = sources.config_map(ns, ref.name)
        values = dict(config_map.data) if config_map else None
    elif source.secret_key_ref:
        ref, kind = source.secret_key_ref, "Secret"
        secret = sources.secret(ns, ref.name)
        values = {k: _decode(secret, k) for k in secret.data} if secret else None
    else:
        raise ConfigError("env valueFrom sets no source")
    if values is None:
        if ref.optional:
            return None
        raise ConfigError(f'{kind.lower()} "{ref.name}" not found')
    if ref.key in values:
        return values[ref.key]
    if ref.optional:
        return None
    raise ConfigError(f"couldn't find key {ref.key} in {kind} {ns}/{ref.name}")


def container_env(pod: Pod, container: Container, sources: Sources) -> dict[str, str]:
    """The variables the kubelet would set for ``container`` (image ENV not included)."""
    ns = pod.metadata.namespace
    service_env = service_variables(visible_services(pod, sources.services))
    env: dict[str, str] = {}
    for env_from in container.env_from:
        values: dict[str, str] = {}
        if env_from.config_map_ref:
            ref = env_from.config_map_ref
            config_map = sources.config_map(ns, ref.name)
            if config_map is None and not ref.optional:
                raise ConfigError(f'configmap "{ref.name}" not found')
            values = dict(config_map.data) if config_map else {}
        elif env_from.secret_ref:
            secret_ref = env_from.secret_ref
            secret = sources.secret(ns, secret_ref.name)
            if secret is None and not secret_ref.optional:
                raise ConfigError(f'secret "{secret_ref.name}" not found')
            values = {k: _decode(secret, k) for k in secret.data} if secret else {}
        for key, value in values.items():
            name = env_from.prefix + key
            # The kubelet skips keys that are not valid variable names (and records an Event).
            if _VAR.match(name):
                env[name] = value
    for var in container.env:
        if var.value_from is not None:
            resolved = _value_from(pod, container, var.value_from, sources)
            if resolved is None:
                continue
            env[var.name] = resolved
        else:
            env[var.name] = expand(var.value or "", {**service_env, **env})
    for name, value in service_env.items():
        env.setdefault(name, value)
    return env
