"""The serving objects of a ModelDeployment, against golden manifests, and the canary split.

Regenerate after an intended change: `MLKUBE_UPDATE_GOLDEN=1 pytest tests/unit/controllers`.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.api import ModelDeployment, parse
from mlkube_operator.resources.model_deployment import (
    ServingSettings,
    Track,
    build_autoscaler,
    build_deployment,
    build_network_policy,
    build_service,
    replica_split,
    service_url,
)

GOLDEN = Path(__file__).parent / "golden"
SETTINGS = ServingSettings(
    image="mlkube/mlkube:0.1.0", tracking_uri="http://mlkube-server.mlkube.svc:5000"
)


def deployment(spec: dict[str, Any]) -> ModelDeployment:
    return parse(
        ModelDeployment,
        {"metadata": {"name": "iris", "namespace": "ml", "uid": "md-uid"}, "spec": spec},
    )


def check(name: str, built: dict[str, Any] | None) -> None:
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("MLKUBE_UPDATE_GOLDEN"):
        golden.write_text(yaml.safe_dump(built, sort_keys=False, width=100))
    assert built == yaml.safe_load(golden.read_text())


def test_stable_track_by_alias() -> None:
    md = deployment({"model": {"name": "iris", "alias": "champion"}, "replicas": 2})
    track = Track("stable", "iris", 3, 2)
    built = build_deployment(md, track, SETTINGS)
    check("serving-stable", built)
    pod = built["spec"]["template"]["spec"]
    # The registry copy, through the tracking server, as mlkube-serving with its own token.
    assert pod["containers"][0]["args"][0] == "mlflow-artifacts:/models/iris/3"
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == (
        "mlkube-serving",
        False,
    )
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert not [name for name in env if name.startswith("MLKUBE_S3")]
    assert env["MLKUBE_TOKEN_FILE"] == "/var/run/secrets/mlkube.io/serviceaccount/token"
    assert env["MLFLOW_WORKSPACE"] == "ml"
    check("serving-service", build_service(md))
    check("serving-networkpolicy", build_network_policy(md))
    assert build_autoscaler(md) is None
    assert service_url("127.10.0.7", md) == "http://127.10.0.7:80"
    assert service_url(None, md) == "http://iris.ml.svc:80"


def test_canary_track_with_resources_env_and_autoscaling() -> None:
    md = deployment(
        {
            "model": {"name": "iris", "stage": "Production"},
            "canary": {"model": {"name": "iris", "version": 4}, "trafficPercent": 20},
            "autoscaling": {"minReplicas": 2, "maxReplicas": 6},
            "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}},
            "env": [{"name": "OMP_NUM_THREADS", "value": "1"}],
            "server": {"workers": 2, "port": 9000},
        }
    )
    track = Track("canary", "iris", 4, 1)
    check("serving-canary", build_deployment(md, track, SETTINGS))
    check("serving-hpa", build_autoscaler(md))


@pytest.mark.parametrize(
    ("replicas", "percent", "expected"),
    [
        (1, 20, (4, 1)),
        (2, 20, (4, 1)),
        (5, 20, (4, 1)),
        (6, 20, (8, 2)),
        (1, 50, (1, 1)),
        (1, 25, (3, 1)),
        (1, 0, (1, 0)),
        (3, 100, (0, 3)),
        (1, 5, (9, 1)),
    ],
)
def test_replica_split(replicas: int, percent: int, expected: tuple[int, int]) -> None:
    stable, canary = replica_split(replicas, percent)
    assert (stable, canary) == expected
    assert stable + canary >= replicas


def test_split_share_is_within_the_granularity_of_ten_pods() -> None:
    for percent in range(1, 100):
        stable, canary = replica_split(1, percent)
        share = Fraction(canary, stable + canary)
        assert abs(share - Fraction(percent, 100)) <= Fraction(1, 10), percent


def test_serving_pods_take_connections_on_their_model_port_only() -> None:
    md = deployment({"model": {"name": "iris", "alias": "champion"}, "server": {"port": 9000}})
    policy = build_network_policy(md)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"mlkube.io/deployment": "iris"}}
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 9000}]}]
    assert policy["metadata"]["ownerReferences"][0]["kind"] == "ModelDeployment"
