"""The bearer token a kubeconfig's user holds, for a client that talks to the tracking server as
that user (``mlkube ui``).

The tracking server takes only bearer tokens (it asks the API server a TokenReview). A kubeconfig
user may have one as a static token, a token file, an exec credential plugin (EKS, GKE, AKS,
kubelogin) or an auth provider; the Kubernetes client's loader turns each into a token and runs
the plugin again once the expiry it reported passes. A plugin that reports no expiry is run again
when the tracking server refuses its token, as kubectl does on a 401. A user who signs in with a
client certificate (or a password) has no token to hand on: ``CredentialError`` says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as _k8s_config

from mlkube.auth import CredentialError

# The library's config loaders carry no annotations.
k8s_config = cast(Any, _k8s_config)
BEARER = "bearer "
# A refused token makes the next request load the kubeconfig again, at most this often (seconds):
# each load may run an exec plugin.
RELOAD_AFTER_REFUSAL = 30.0


def load_configuration(kubeconfig: str | None, context: str | None = None) -> Any:
    """The API client configuration of ``context`` (default: the current one) in ``kubeconfig``
    ($KUBECONFIG's list of files, or ~/.kube/config); CredentialError when there is none."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (k8s_config.ConfigException, OSError, TypeError, ValueError) as err:
        where = kubeconfig or "~/.kube/config"
        raise CredentialError(f"cannot load the kubeconfig {where}: {err}") from None
    return configuration


def user_of(kubeconfig: str | None, context: str | None) -> str:
    """``user U of context C`` for messages; what the kubeconfig names, or less."""
    try:
        contexts, current = k8s_config.list_kube_config_contexts(kubeconfig)
    except (k8s_config.ConfigException, OSError, TypeError, ValueError):
        return "the kubeconfig's user"
    chosen = next((c for c in contexts if c.get("name") == context), current) or {}
    user = (chosen.get("context") or {}).get("user", "?")
    return f"user {user} of context {chosen.get('name', '?')}"


class KubeconfigTokens:
    """Bearer tokens of one kubeconfig context's user; safe to call from many threads."""

    def __init__(
        self,
        kubeconfig: str | None,
        context: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kubeconfig = kubeconfig
        self._context = context
        self._clock = clock
        self._lock = threading.Lock()
        self.what = user_of(kubeconfig, context)
        self._configuration = load_configuration(kubeconfig, context)
        self._loaded_at = clock()
        self._reload = False

    def token(self) -> str:
        """The user's token, refreshed when it has expired; CredentialError when there is none."""
        with self._lock:
            if self._reload:
                self._configuration = load_configuration(self._kubeconfig, self._context)
                self._loaded_at = self._clock()
                self._reload = False
            # Runs the library's refresh hook: an exec plugin again once its token expired.
            value = self._configuration.get_api_key_with_prefix("BearerToken")
        if isinstance(value, str) and value[: len(BEARER)].lower() == BEARER:
            token = value[len(BEARER) :].strip()
            if token:
                return token
        raise CredentialError(f"the kubeconfig's {self.what} has no bearer token ({self._has()})")

    def refused(self) -> None:
        """The tracking server answered 401 to a token of ours: load the kubeconfig again before
        the next request (not more often than RELOAD_AFTER_REFUSAL)."""
        with self._lock:
            if self._clock() - self._loaded_at >= RELOAD_AFTER_REFUSAL:
                self._reload = True

    def _has(self) -> str:
        configuration = self._configuration
        if configuration.cert_file:
            return "it signs in with a client certificate"
        if configuration.api_key.get("BearerToken"):
            return "it signs in with a user name and password"
        return "it has no credentials"
