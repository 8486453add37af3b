"""The operator's settings: one typed object, filled from the environment once at startup."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field


class Settings(BaseModel):
    """Every setting, its environment variable and its default."""

    namespaces: list[str] = Field(
        default_factory=list,
        description="MLKUBE_NAMESPACES: comma-separated namespaces to watch; empty means all.",
    )
    liveness_endpoint: str = Field(
        default="http://0.0.0.0:8080/healthz",
        description="MLKUBE_LIVENESS_ENDPOINT: where Kopf answers liveness probes.",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        namespaces = [n.strip() for n in env.get("MLKUBE_NAMESPACES", "").split(",") if n.strip()]
        values: dict[str, object] = {"namespaces": namespaces}
        if "MLKUBE_LIVENESS_ENDPOINT" in env:
            values["liveness_endpoint"] = env["MLKUBE_LIVENESS_ENDPOINT"]
        return cls.model_validate(values)
