"""What is installed and whether it works: the checks behind `mlkube status`.

Each check says what it saw and, when something is wrong, the command or setting that fixes it:

- the API server (reachable, its version, who the credentials are);
- mlkube's CustomResourceDefinitions (installed, and the same schema this SDK generates);
- the chart's components, found by the labels the chart gives them (operator, tracking server,
  MinIO): their image, and whether their replicas are ready. An operator or server that runs
  outside the cluster (`make up` runs both on the host) has no Deployment to look at;
- the tracking server at ``MLFLOW_TRACKING_URI``: ``/health``, ``/version``, and whether it
  accepts the caller's token in the namespace;
- the object store, through the tracking server: listing a project archive's place in the
  namespace's prefix is a real request to the store that reveals nothing and changes nothing.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlkube import __version__, layout, proxy
from mlkube.api.crd import crd
from mlkube.api.kinds import KINDS
from mlkube.client.errors import Forbidden, MlkubeError, NotFound

if TYPE_CHECKING:
    from mlkube.client.client import Client

TIMEOUT = 10.0
COMPONENT = "app.kubernetes.io/component"
COMPONENTS = ("operator", "server", "minio")
INSTALL = "install mlkube: `helm install mlkube charts/mlkube -n mlkube-system --create-namespace`"


@dataclass(frozen=True)
class Check:
    """One line of the report; ``ok`` None means it could not be checked (not a failure)."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def api_server(client: Client) -> Check:
    version = client.kube.server_version()
    user = client.kube.whoami() or "unknown user"
    context = f", context {client.context}" if client.context else " (in-cluster)"
    return Check("API server", True, f"{client.server} {version}{context}, as {user}")


def crds(client: Client) -> Check:
    """Every kind's CRD installed, with the schema this mlkube generates."""
    missing: list[str] = []
    differ: list[str] = []
    for kind in KINDS:
        try:
            installed = client.kube.crd(kind.crd_name)
        except NotFound:
            missing.append(kind.crd_name)
            continue
        except Forbidden:
            return Check("CRDs", None, "you may not read CustomResourceDefinitions; not checked")
        if _schemas(installed) != _schemas(crd(kind)):
            differ.append(kind.crd_name)
    if missing:
        return Check("CRDs", False, f"missing: {', '.join(missing)}", INSTALL)
    if differ:
        return Check(
            "CRDs",
            False,
            f"{', '.join(differ)} differ from this mlkube's ({__version__})",
            "update them: `helm upgrade` the release, or `kubectl apply --server-side -f crds/` "
            "from this version's source (or upgrade this client to the cluster's version)",
        )
    return Check("CRDs", True, f"{len(KINDS)} installed, the schema of mlkube {__version__}")


def _schemas(definition: Mapping[str, Any]) -> dict[str, Any]:
    versions = (definition.get("spec") or {}).get("versions") or []
    return {v.get("name"): (v.get("schema") or {}).get("openAPIV3Schema") for v in versions}


def components(client: Client) -> list[Check]:
    """The chart's Deployments, by component."""
    try:
        found = client.kube.deployments(
            ",".join(f"{k}={v}" for k, v in layout.PART_OF.items()) + f",{COMPONENT}"
        )
    except Forbidden:
        return [Check("components", None, "you may not list Deployments cluster-wide; not checked")]
    checks = []
    for component in COMPONENTS:
        mine = [d for d in found if (d["metadata"].get("labels") or {}).get(COMPONENT) == component]
        if not mine:
            checks.append(_absent(component))
        checks.extend(_deployment(component, d) for d in mine)
    return checks


def _absent(component: str) -> Check:
    if component == "minio":
        return Check("minio", None, "no bundled MinIO in the cluster (an external store?)")
    return Check(
        component,
        None,
        f"no {component} Deployment in the cluster; if it runs elsewhere (`make up` runs it on "
        "the host) it is not checked here",
        INSTALL,
    )


def _deployment(component: str, deployment: Mapping[str, Any]) -> Check:
    meta = deployment["metadata"]
    where = f"{meta['namespace']}/{meta['name']}"
    wanted = int((deployment.get("spec") or {}).get("replicas", 1) or 0)
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or [{}]
    image = containers[0].get("image", "?")
    detail = f"{where} {ready}/{wanted} ready, {image}"
    if ready >= wanted > 0:
        return Check(component, True, detail)
    return Check(
        component,
        False,
        detail,
        f"see why: `kubectl describe deployment {meta['name']} -n {meta['namespace']}` and "
        f"`kubectl logs deployment/{meta['name']} -n {meta['namespace']}`",
    )


def _get(url: str, headers: Mapping[str, str]) -> tuple[int, str]:
    """(status, body) of a GET; status 0 and the reason when nothing answered."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.status), response.read(1 << 16).decode(errors="replace")
    except urllib.error.HTTPError as err:
        return int(err.code), err.read(1 << 16).decode(errors="replace")
    except (urllib.error.URLError, OSError) as err:
        return 0, str(getattr(err, "reason", err))


def _message(body: str) -> str:
    try:
        return str(json.loads(body).get("message") or body)[:300]
    except (ValueError, AttributeError):
        return body[:300]


def tracking(client: Client, env: Mapping[str, str]) -> list[Check]:
    """The tracking server, then the object store behind it."""
    uri = env.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        return [
            Check(
                "tracking server",
                False,
                f"MLFLOW_TRACKING_URI is {uri or 'unset'!r}: `mlkube run DIR` and mlflow cannot "
                "reach the server",
                "export MLFLOW_TRACKING_URI=<its URL>; on a chart install, `kubectl "
                "port-forward -n mlkube-system svc/mlkube-server 5000` and "
                "MLFLOW_TRACKING_URI=http://127.0.0.1:5000",
            )
        ]
    base = uri.rstrip("/")
    status, body = _get(f"{base}/health", {})
    if status != 200:
        reason = body if status == 0 else f"/health answered {status}"
        return [
            Check(
                "tracking server",
                False,
                f"{base}: {reason}",
                "check MLFLOW_TRACKING_URI, and that the server runs (`kubectl get pods -n "
                "mlkube-system`)",
            )
        ]
    _, version = _get(f"{base}/version", {})
    headers = proxy.headers(env, client.namespace)
    status, body = _get(f"{base}/api/3.0/mlflow/workspaces/{client.namespace}", headers)
    served = f"{base} mlkube {version.strip()}"
    if status == 401:
        return [
            Check(
                "tracking server",
                False,
                f"{served}: it does not accept your token ({_message(body)})",
                "export MLFLOW_TRACKING_TOKEN=$(kubectl create token <serviceaccount> -n "
                "<namespace>), or any token the cluster accepts",
            )
        ]
    if status not in {200, 403}:
        return [Check("tracking server", False, f"{served}: {status} {_message(body)}")]
    checks = [Check("tracking server", True, served)]
    return [*checks, object_store(client, env, base, headers)]


def object_store(
    client: Client, env: Mapping[str, str], base: str, headers: Mapping[str, str]
) -> Check:
    # A project archive's key that no upload makes: a listing of it reaches the store.
    probe = layout.project_archive_path("0" * 64)
    status, body = _get(f"{base}/{proxy.ARTIFACTS_API}?path={probe}", headers)
    if status == 200:
        return Check(
            "object store", True, f"answers through the tracking server ({client.namespace})"
        )
    if status == 403:
        return Check(
            "object store",
            None,
            f"you may not read Runs in namespace {client.namespace}, which this check needs",
        )
    return Check(
        "object store",
        False,
        f"the tracking server could not reach it: {status} {_message(body)}",
        "check the server's object-store settings (MLKUBE_S3_ENDPOINT and its Secret; chart "
        "values objectStore.*) and that MinIO or the S3 endpoint runs",
    )


def report(client: Client, env: Mapping[str, str]) -> list[Check]:
    """Every check, in order; the API server's failure stops the rest (they need it)."""
    try:
        checks = [api_server(client)]
    except MlkubeError as err:
        return [Check("API server", False, str(err))]
    checks.append(crds(client))
    checks.extend(components(client))
    checks.extend(tracking(client, env))
    return checks
