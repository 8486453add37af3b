"""Serving a registered model (a ModelDeployment) and asking it for predictions.

The scoring Service is in the cluster; from a laptop it is reached through the API server's service
proxy, ``/api/v1/namespaces/<ns>/services/<name>:<port>/proxy/invocations``, with the kubeconfig's
credentials (RBAC: create on services/proxy, which Kubernetes' edit role grants), so no port
forward and no route into the cluster network is needed.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from mlkube import layout
from mlkube.api import ModelDeployment
from mlkube.api.model_deployment import Canary, ModelRef
from mlkube.client.errors import AlreadyExists, Failed, NotFound, ServingError, WaitTimeout
from mlkube.client.refs import parse_canary, parse_model_ref

if TYPE_CHECKING:
    from mlkube.client.client import Client

INVOCATIONS = "invocations"
# Seconds a Failed deployment gets to become Ready before a wait gives up on it.
FAILED_GRACE = 30.0
_REF_FIELDS = ("version", "alias", "stage")


def _ref_patch(ref: ModelRef) -> dict[str, Any]:
    """The reference as a merge patch: the other two of version, alias and stage removed."""
    wire = ref.to_wire()
    return {**dict.fromkeys(_REF_FIELDS), **wire}


def deploy(
    client: Client,
    model: str | ModelRef,
    name: str,
    canary: str | Canary | None = None,
    *,
    replicas: int | None = None,
    wait: bool = False,
    timeout: float = 300,
) -> ModelDeployment:
    """Serve ``model`` (``diabetes@champion``, ``diabetes/3``, or a ModelRef) as deployment
    ``name``, made or changed; ``canary`` (``diabetes@challenger:20``) sends a share of requests
    to a second version, and None removes a canary. With ``wait``, return once it is Ready at this
    spec (Failed when the operator says it cannot be)."""
    ref = parse_model_ref(model) if isinstance(model, str) else model
    second = parse_canary(canary) if isinstance(canary, str) else canary
    spec: dict[str, Any] = {"model": ref.to_wire()}
    if second is not None:
        spec["canary"] = second.to_wire()
    if replicas is not None:
        spec["replicas"] = replicas
    try:
        made = client.deployments.create({"metadata": {"name": name}, "spec": spec})
    except AlreadyExists:
        patch: dict[str, Any] = {
            "model": _ref_patch(ref),
            "canary": None
            if second is None
            else {"model": _ref_patch(second.model), "trafficPercent": second.traffic_percent},
        }
        if replicas is not None:
            patch["replicas"] = replicas
        made = client.deployments.patch(name, {"spec": patch})
    if not wait:
        return made
    generation = made.metadata.generation or 0
    deadline = time.monotonic() + timeout

    def settled(
        md: ModelDeployment, phases: frozenset[str] = frozenset({"Ready", "Failed"})
    ) -> bool:
        current = (md.status.observed_generation or 0) >= generation
        return current and md.status.phase in phases

    done = client.deployments.wait(name, until=settled, timeout=timeout)
    if done.status.phase == "Failed":
        # The operator may judge before its index has seen a version registered a moment ago;
        # it reconciles again when the version changes. A failure that lasts is the real one.
        left = max(1.0, min(FAILED_GRACE, deadline - time.monotonic()))
        try:
            done = client.deployments.wait(
                name, until=lambda md: settled(md, frozenset({"Ready"})), timeout=left
            )
        except WaitTimeout:
            message = client.deployments.get(name).status.message
            raise Failed(
                f"ModelDeployment {name!r} failed: {message or 'no message'}; fix its model "
                "reference (`mlkube models versions MODEL`) and deploy again"
            ) from None
    return done


def request_body(data: Any) -> Any:
    """MLflow's scoring request as a JSON value: bytes or text parsed, a pandas DataFrame as
    ``dataframe_split``, anything else as it is (``{"dataframe_split": ...}``,
    ``{"inputs": ...}``, ``{"instances": ...}``)."""
    if isinstance(data, bytes | str):
        return json.loads(data)
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        split = data.to_dict(orient="split")
        split.pop("index", None)
        return {"dataframe_split": split}
    return data


def predict(client: Client, deployment: str, data: Any, *, timeout: float = 60) -> Any:
    """Send ``data`` to the deployment's ``/invocations``; its parsed JSON answer
    (``{"predictions": [...]}``). ServingError when the model server refuses it."""
    services = client.kube.services(client.namespace, f"{layout.DEPLOYMENT_LABEL}={deployment}")
    if not services:
        found = client.deployments.get(deployment)  # NotFound when there is no deployment
        raise NotFound(
            f"ModelDeployment {deployment!r} has no Service yet (phase "
            f"{found.status.phase or 'unset'}); wait until it is Ready "
            f"(`mlkube deployments get {deployment}`)",
            kind="Service",
            name=deployment,
            namespace=client.namespace,
        )
    service = services[0]
    ports = (service.get("spec") or {}).get("ports") or [{}]
    port = str(ports[0].get("name") or ports[0].get("port") or "http")
    status, answer = client.kube.service_proxy(
        client.namespace,
        service=str(service["metadata"]["name"]),
        port=port,
        path=INVOCATIONS,
        body=request_body(data),
        timeout=timeout,
    )
    if status == 200:
        return json.loads(answer)
    raise ServingError(
        f"ModelDeployment {deployment!r} answered {status}: {_message(answer)}"
        + ("; is it Ready? (`mlkube deployments get`)" if status in {502, 503} else ""),
        status,
    )


def _message(answer: bytes) -> str:
    """The error's message, from MLflow's {error_code, message} or a Kubernetes Status."""
    try:
        body = json.loads(answer)
    except ValueError:
        return answer[:300].decode(errors="replace")
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:500]
    return str(body)[:300]
