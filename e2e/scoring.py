"""The rows the serving tests score, and what the registered model predicts for them when it is
loaded here (the reference every served answer is compared with)."""

from __future__ import annotations

from pathlib import Path

from minio import Minio

from e2e.cluster.cluster import LocalCluster

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
ROWS = [
    [0.038, 0.050, 0.061, 0.021, -0.044, -0.034, -0.043, -0.002, 0.019, -0.017],
    [-0.001, -0.044, -0.051, -0.026, -0.008, -0.019, 0.074, -0.039, -0.068, -0.092],
]


def local_predictions(
    cluster: LocalCluster, namespace: str, version: int, tmp: Path, model: str = "diabetes"
) -> list[float]:
    """What the registered model predicts when loaded here (mlkube.models, no server)."""
    import pandas as pd

    from mlkube.models.pyfunc import load_model

    client = Minio(
        cluster.s3.endpoint.removeprefix("http://"),
        access_key=cluster.s3.access_key,
        secret_key=cluster.s3.secret_key,
        secure=False,
    )
    prefix = f"{namespace}/models/{model}/{version}/"
    target = tmp / f"v{version}"
    for obj in client.list_objects("mlkube", prefix=prefix, recursive=True):
        assert obj.object_name is not None
        client.fget_object("mlkube", obj.object_name, str(target / obj.object_name[len(prefix) :]))
    predictions = load_model(target).predict(pd.DataFrame(ROWS, columns=COLUMNS))
    return [float(p) for p in list(predictions)]
