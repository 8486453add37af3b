"""The tracking server's settings: one typed object, from flags and the environment, at startup."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from mlkube.auth import TOKEN_AUDIENCE
from mlkube.layout import NAMESPACE
from mlkube_operator.server.http.bounds import Bounds
from mlkube_operator.server.served import CHART_VALUE, SETTING, Served

_BOUNDS = Bounds()
# (flag, environment variable, Bounds field, type): the limits on one request's work (issue 13).
_BOUND_FLAGS: list[tuple[str, str, str, type]] = [
    ("--max-json-bytes", "MLKUBE_MAX_JSON_BYTES", "max_json_bytes", int),
    ("--max-upload-bytes", "MLKUBE_MAX_UPLOAD_BYTES", "max_upload_bytes", int),
    ("--header-timeout", "MLKUBE_HEADER_TIMEOUT", "head_seconds", float),
    ("--max-header-bytes", "MLKUBE_MAX_HEADER_BYTES", "max_head_bytes", int),
    ("--body-idle-timeout", "MLKUBE_BODY_IDLE_TIMEOUT", "body_idle_seconds", float),
    ("--json-body-timeout", "MLKUBE_JSON_BODY_TIMEOUT", "json_body_seconds", float),
    ("--max-in-flight", "MLKUBE_MAX_IN_FLIGHT", "max_in_flight", int),
]


def _positive(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value: float = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


class Backend(StrEnum):
    KUBERNETES = "kubernetes"
    MEMORY = "memory"


class AuthMode(StrEnum):
    KUBERNETES = "kubernetes"
    NONE = "none"


class ServerSettings(BaseModel):
    """Every setting, with the flag or environment variable it comes from."""

    host: str = Field(default="127.0.0.1", description="--host: address to listen on.")
    port: int = Field(default=5000, ge=0, le=65535, description="--port: port to listen on.")
    namespace: str = Field(
        default="default",
        description="--namespace / MLKUBE_NAMESPACE: the workspace of requests without an "
        "X-MLFLOW-WORKSPACE header.",
    )
    watch_namespaces: list[str] = Field(
        default_factory=list,
        description="MLKUBE_WATCH_NAMESPACES: comma-separated namespaces the server serves (its "
        "workspaces: it watches, lists and answers for these only; the chart's "
        "operator.watchNamespaces); empty means every namespace. --namespace must be one.",
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
    auth: AuthMode = Field(
        default=AuthMode.KUBERNETES,
        description="--auth / MLKUBE_AUTH: kubernetes (every request carries a bearer token, "
        "checked by TokenReview and SubjectAccessReview) or none (single-user mode: anyone who "
        "reaches the server may do everything; only by this explicit setting).",
    )
    token_audiences: list[str] = Field(
        default=[TOKEN_AUDIENCE],
        description="MLKUBE_TOKEN_AUDIENCES: comma-separated audiences of the pod tokens the "
        "server accepts (run and model pods get tokens for `mlkube`).",
    )
    accept_api_tokens: bool = Field(
        default=True,
        description="MLKUBE_ACCEPT_API_TOKENS: also accept tokens for the API server's own "
        "audiences (kubectl users' tokens, `kubectl create token` without --audience).",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="--metrics-port / MLKUBE_METRICS_PORT: Prometheus metrics port; 0 is off.",
    )
    ui_dir: Path | None = Field(
        default=None,
        description="--ui-dir / MLKUBE_UI_DIR: MLflow's web UI bundle (mlflow/server/js/build of "
        "the pinned mlflow wheel; /opt/mlkube/mlflow-ui in the mlkube image), served at / and "
        "/static-files/; unset serves no UI.",
    )
    bounds: Bounds = Field(
        default=_BOUNDS,
        description="Limits on one request's work: body sizes, read deadlines, requests in "
        "flight (flags and variables in _BOUND_FLAGS; defaults in http/bounds.py).",
    )

    @property
    def served(self) -> Served:
        return Served(tuple(self.watch_namespaces))

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
        parser.add_argument(
            "--auth",
            choices=[m.value for m in AuthMode],
            default=env.get("MLKUBE_AUTH") or AuthMode.KUBERNETES.value,
            help="kubernetes: bearer tokens checked by TokenReview and SubjectAccessReview; "
            "none: single-user mode without authentication",
        )
        parser.add_argument(
            "--metrics-port", type=int, default=int(env.get("MLKUBE_METRICS_PORT") or 0)
        )
        parser.add_argument(
            "--ui-dir",
            default=env.get("MLKUBE_UI_DIR") or None,
            help="serve MLflow's web UI from this bundle directory (the one holding index.html)",
        )
        audiences = env.get("MLKUBE_TOKEN_AUDIENCES", TOKEN_AUDIENCE)
        for flag, variable, name, kind in _BOUND_FLAGS:
            default = env.get(variable) or getattr(_BOUNDS, name)
            parser.add_argument(flag, dest=name, type=_positive(kind), default=kind(default))
        args = parser.parse_args(list(argv))
        watched = [n.strip() for n in env.get(SETTING, "").split(",") if n.strip()]
        for name in watched:
            if not NAMESPACE.fullmatch(name):
                parser.error(f"{SETTING}: {name!r} is not a namespace name")
        if watched and args.namespace not in watched:
            parser.error(
                f"the default workspace {args.namespace!r} (--namespace) is not among the "
                f"namespaces this server serves ({SETTING}={','.join(watched)}); make it one of "
                f"them (the chart: server.defaultWorkspace, {CHART_VALUE})"
            )
        bounds = Bounds(**{name: getattr(args, name) for _, _, name, _ in _BOUND_FLAGS})
        return cls(
            host=args.host,
            port=args.port,
            namespace=args.namespace,
            watch_namespaces=watched,
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
            auth=AuthMode(args.auth),
            token_audiences=[a.strip() for a in audiences.split(",") if a.strip()],
            accept_api_tokens=env.get("MLKUBE_ACCEPT_API_TOKENS", "true").lower()
            not in ("0", "false", "no"),
            metrics_port=args.metrics_port,
            ui_dir=Path(args.ui_dir) if args.ui_dir else None,
            bounds=bounds,
        )
