"""The namespaces a tracking server serves: every one, or those of MLKUBE_WATCH_NAMESPACES.

With the chart's ``operator.watchNamespaces`` set, the server's rights on mlkube resources are
Roles in exactly those namespaces (charts/mlkube/templates/server/rbac.yaml): it watches them one
by one, lists no namespaces, and refuses a workspace outside them before any store call.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlkube_operator.server.errors import MlflowError, invalid

SETTING = "MLKUBE_WATCH_NAMESPACES"
CHART_VALUE = "operator.watchNamespaces"


@dataclass(frozen=True)
class Served:
    """``names``: the namespaces served; empty means every namespace."""

    names: tuple[str, ...] = ()

    def covers(self, namespace: str) -> bool:
        return not self.names or namespace in self.names

    def refusal(self, workspace: str) -> MlflowError:
        """What a request for ``workspace`` gets when this server does not serve it."""
        return invalid(
            f"workspace {workspace!r} is not served by this server: it serves only namespaces "
            f"{', '.join(self.names)} ({SETTING}); to use {workspace}, add it to the chart "
            f"value {CHART_VALUE} (or leave that empty to serve every namespace)"
        )
