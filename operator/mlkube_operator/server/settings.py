"""The tracking server's settings: one typed object, from flags and the environment, at startup."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, Field


class Backend(StrEnum):
    KUBERNETES = "kubernetes"
    MEMORY = "memory"


class ServerSettings(BaseModel):
    """Every setting, with the flag or environment variable it comes from."""

    host: str = Field(default="127.0.0.1", description="--host: address to listen on.")
    port: int = Field(default=5000, ge=0, le=65535, description="--port: port to listen on.")
    namespace: str = Field(
        default="default",
        description="--namespace / MLKUBE_NAMESPACE: the workspace of requests without an "
        "X-MLFLOW-WORKSPACE header.",
    )
    backend: Backend = Field(
        default=Backend.KUBERNETES,
        description="--backend: kubernetes (custom resources + object storage) or memory "
        "(nothing durable; for trying the API).",
    )
    kubeconfig: str | None = Field(
        default=None, description="KUBECONFIG; the in-cluster configuration when unset."
    )
    s3_endpoint: str | None = Field(default=None, description="MLKUBE_S3_ENDPOINT, a URL.")
    s3_access_key: str | None = Field(default=None, description="MLKUBE_S3_ACCESS_KEY.")
    s3_secret_key: str | None = Field(default=None, description="MLKUBE_S3_SECRET_KEY.")
    s3_bucket: str = Field(default="mlkube", description="MLKUBE_S3_BUCKET.")
    id_namespace: str | None = Field(
        default=None,
        description="MLKUBE_ID_NAMESPACE: namespace of the ConfigMap that allocates experiment "
        "ids; defaults to --namespace.",
    )
    registry_source_allowlist: list[str] = Field(
        default_factory=list,
        description="MLKUBE_REGISTRY_SOURCE_ALLOWLIST: comma-separated s3://<bucket>/<prefix>/ "
        "entries that model versions may be registered from besides their workspace's own "
        "prefix (the operator's setting of the same name; mlkube.sources).",
    )
    log_level: str = Field(default="info", description="--log-level: uvicorn's log level.")

    @classmethod
    def parse(cls, argv: Sequence[str], env: Mapping[str, str]) -> ServerSettings:
        parser = argparse.ArgumentParser(
            prog="mlkube-server",
            description="Serve MLflow's tracking REST API on Experiment and Run resources.",
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5000)
        parser.add_argument("--namespace", default=env.get("MLKUBE_NAMESPACE", "default"))
        parser.add_argument(
            "--backend", choices=[b.value for b in Backend], default=Backend.KUBERNETES.value
        )
        parser.add_argument("--log-level", default="info")
        args = parser.parse_args(list(argv))
        return cls(
            host=args.host,
            port=args.port,
            namespace=args.namespace,
            backend=Backend(args.backend),
            kubeconfig=env.get("KUBECONFIG") or None,
            s3_endpoint=env.get("MLKUBE_S3_ENDPOINT") or None,
            s3_access_key=env.get("MLKUBE_S3_ACCESS_KEY") or None,
            s3_secret_key=env.get("MLKUBE_S3_SECRET_KEY") or None,
            s3_bucket=env.get("MLKUBE_S3_BUCKET") or "mlkube",
            id_namespace=env.get("MLKUBE_ID_NAMESPACE") or None,
            registry_source_allowlist=[
                e.strip()
                for e in env.get("MLKUBE_REGISTRY_SOURCE_ALLOWLIST", "").split(",")
                if e.strip()
            ],
            log_level=args.log_level,
        )
