"""Which cluster, as whom, in which namespace: the choices kubectl makes, made the same way.

A kubeconfig (``kubeconfig`` argument, else ``$KUBECONFIG``, else ``~/.kube/config``) and one of
its contexts (``context``, else its current context) when there is one; inside a pod with no
kubeconfig, the pod's ServiceAccount. The namespace is the one given, else the context's, else
the pod's own, else ``default``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as _k8s_config

from mlkube.client.errors import ConfigError

# The library's config loaders carry no annotations.
k8s_config = cast(Any, _k8s_config)
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class Target:
    """A configured API client and where it points."""

    api_client: k8s.ApiClient
    server: str
    namespace: str
    context: str | None  # None inside a pod


def kubeconfig_paths(kubeconfig: str | None, env: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files kubectl would read ($KUBECONFIG may list several)."""
    raw = kubeconfig or env.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


def _context_namespace(config_file: str, context: str | None) -> tuple[str | None, str | None]:
    """(the context's name, its namespace) from the kubeconfig."""
    contexts, active = k8s_config.list_kube_config_contexts(config_file=config_file)
    chosen = active
    if context is not None:
        chosen = next((c for c in contexts if c.get("name") == context), None)
        if chosen is None:
            names = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
            raise ConfigError(
                f"context {context!r} is not in the kubeconfig {config_file} (it has: {names}); "
                "pick one with --context"
            )
    details = (chosen or {}).get("context") or {}
    name = (chosen or {}).get("name")
    return (str(name) if name else None), details.get("namespace")


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Target:
    """Load the configuration; ConfigError when there is none to load or it is broken."""
    env = os.environ if env is None else env
    configuration = k8s.Configuration()
    # A refused or dropped connection is reported at once rather than after urllib3's retries.
    configuration.retries = 1
    paths = [p for p in kubeconfig_paths(kubeconfig, env) if p.is_file()]
    if kubeconfig and not paths:
        raise ConfigError(f"the kubeconfig {kubeconfig} does not exist; check --kubeconfig")
    if paths:
        config_file = os.pathsep.join(str(p) for p in paths)
        try:
            chosen, context_namespace = _context_namespace(config_file, context)
            k8s_config.load_kube_config(
                config_file=config_file, context=context, client_configuration=configuration
            )
        except ConfigError:
            raise
        except (k8s_config.ConfigException, OSError, ValueError, TypeError, KeyError) as err:
            raise ConfigError(
                f"the kubeconfig {config_file} cannot be used: {err}; check it with "
                "`kubectl config view`"
            ) from None
        return Target(
            k8s.ApiClient(configuration),
            str(configuration.host),
            namespace or context_namespace or "default",
            chosen,
        )
    if "KUBERNETES_SERVICE_HOST" in env:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException as err:
            raise ConfigError(
                f"inside a pod, but its ServiceAccount cannot be used: {err}"
            ) from None
        own = POD_NAMESPACE_FILE.read_text().strip() if POD_NAMESPACE_FILE.is_file() else ""
        return Target(
            k8s.ApiClient(configuration),
            str(configuration.host),
            namespace or own or "default",
            None,
        )
    wanted = ", ".join(str(p) for p in kubeconfig_paths(kubeconfig, env))
    raise ConfigError(
        f"no Kubernetes configuration: {wanted} does not exist; set KUBECONFIG (or pass "
        "--kubeconfig) to the file kubectl uses for your cluster"
    )
