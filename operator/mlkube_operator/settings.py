"""The operator's settings: one typed object, filled from the environment once at startup."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from mlkube import __version__


class Settings(BaseModel):
    """Every setting, with the environment variable it comes from and its default."""

    namespaces: list[str] = Field(
        default_factory=list,
        description="MLKUBE_NAMESPACES: comma-separated namespaces to watch; empty means all.",
    )
    liveness_endpoint: str = Field(
        default="http://0.0.0.0:8080/healthz",
        description="MLKUBE_LIVENESS_ENDPOINT: where Kopf answers liveness probes.",
    )
    metrics_port: int = Field(
        default=9090,
        ge=0,
        le=65535,
        description="MLKUBE_METRICS_PORT: Prometheus metrics port (0 turns them off).",
    )
    kubeconfig: str | None = Field(
        default=None, description="KUBECONFIG: unset in a pod (the in-cluster service account)."
    )
    id_namespace: str = Field(
        default="default",
        description="MLKUBE_ID_NAMESPACE: namespace of the ConfigMap that allocates experiment "
        "ids (shared with the tracking server).",
    )
    runtime_image: str = Field(
        default=f"mlkube/mlkube-runtime:{__version__}",
        description="MLKUBE_RUNTIME_IMAGE: the image of runs that name none (Python with "
        "numpy, pandas, scikit-learn and mlflow; no mlkube).",
    )
    runner_image: str = Field(
        default=f"mlkube/mlkube:{__version__}",
        description="MLKUBE_RUNNER_IMAGE: the image of every Run's init container, which runs "
        "`mlkube project prepare` (writes the runner, fetches the project); mlkube's own image.",
    )
    ca_bundle: str = Field(
        default="",
        description="MLKUBE_CA_BUNDLE: path of a PEM file of CA certificates, read once at "
        "start, that run pods trust instead of their image's (a full bundle: the host's plus "
        "a proxy's or a private registry's CA); empty means none.",
    )
    tracking_uri: str = Field(
        default="http://mlkube-server.mlkube-system.svc:5000",
        description="MLKUBE_TRACKING_URI: the tracking server as run pods reach it.",
    )
    s3_endpoint: str = Field(
        default="http://minio.mlkube-system.svc:9000",
        description="MLKUBE_S3_ENDPOINT: object storage as the operator reaches it (a URL), for "
        "registry copies. Pods in users' namespaces get no object-store setting or credential.",
    )
    s3_bucket: str = Field(default="mlkube", description="MLKUBE_S3_BUCKET.")
    s3_access_key: str = Field(default="", description="MLKUBE_S3_ACCESS_KEY.")
    s3_secret_key: str = Field(default="", description="MLKUBE_S3_SECRET_KEY.")
    serving_image: str = Field(
        default=f"mlkube/mlkube:{__version__}",
        description="MLKUBE_SERVING_IMAGE: the image of model-serving pods (runs `mlkube serve`).",
    )
    run_service_account: str = Field(
        default="",
        description="MLKUBE_RUN_SERVICE_ACCOUNT: ServiceAccount of run pods; empty means "
        "mlkube-run, which the operator makes (with its RoleBinding to MLKUBE_RUN_CLUSTER_ROLE) in "
        "each namespace with runs. Another name must exist, and be bound, in those namespaces.",
    )
    run_cluster_role: str = Field(
        default="mlkube-run",
        min_length=1,
        description="MLKUBE_RUN_CLUSTER_ROLE: the ClusterRole that ServiceAccount mlkube-run is "
        "bound to in each namespace with runs (what a Run's code may do there).",
    )
    serving_cluster_role: str = Field(
        default="mlkube-serving",
        min_length=1,
        description="MLKUBE_SERVING_CLUSTER_ROLE: the ClusterRole that ServiceAccount "
        "mlkube-serving, of model-serving pods, is bound to in each namespace with deployments.",
    )
    registry_source_allowlist: list[str] = Field(
        default_factory=list,
        description="MLKUBE_REGISTRY_SOURCE_ALLOWLIST: comma-separated s3://<bucket>/<prefix>/ "
        "entries that ModelVersions of every namespace may be registered from, besides their "
        "own namespace's prefix of MLKUBE_S3_BUCKET (mlkube.sources); empty means none.",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        names = {
            "MLKUBE_LIVENESS_ENDPOINT": "liveness_endpoint",
            "MLKUBE_METRICS_PORT": "metrics_port",
            "KUBECONFIG": "kubeconfig",
            "MLKUBE_ID_NAMESPACE": "id_namespace",
            "MLKUBE_RUNTIME_IMAGE": "runtime_image",
            "MLKUBE_SERVING_IMAGE": "serving_image",
            "MLKUBE_RUNNER_IMAGE": "runner_image",
            "MLKUBE_CA_BUNDLE": "ca_bundle",
            "MLKUBE_TRACKING_URI": "tracking_uri",
            "MLKUBE_S3_ENDPOINT": "s3_endpoint",
            "MLKUBE_S3_BUCKET": "s3_bucket",
            "MLKUBE_S3_ACCESS_KEY": "s3_access_key",
            "MLKUBE_S3_SECRET_KEY": "s3_secret_key",
            "MLKUBE_RUN_SERVICE_ACCOUNT": "run_service_account",
            "MLKUBE_RUN_CLUSTER_ROLE": "run_cluster_role",
            "MLKUBE_SERVING_CLUSTER_ROLE": "serving_cluster_role",
        }
        values: dict[str, object] = {
            field: env[var] for var, field in names.items() if env.get(var)
        }
        for var, field in (
            ("MLKUBE_NAMESPACES", "namespaces"),
            ("MLKUBE_REGISTRY_SOURCE_ALLOWLIST", "registry_source_allowlist"),
        ):
            values[field] = [n.strip() for n in env.get(var, "").split(",") if n.strip()]
        return cls.model_validate(values)
