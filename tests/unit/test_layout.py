"""mlkube.layout: the one computation of a run's artifact URI and object keys (issue 12)."""

from __future__ import annotations

from mlkube import layout

RUN_ID = "0123456789abcdef0123456789abcdef"
MODEL_ID = "m-" + RUN_ID


def test_a_run_without_a_custom_location_goes_through_the_artifact_proxy() -> None:
    location = layout.experiment_artifact_location("7")
    assert location == "mlflow-artifacts:/7"
    assert layout.run_artifact_uri(location, RUN_ID) == f"mlflow-artifacts:/7/{RUN_ID}/artifacts"
    assert layout.logged_model_artifact_uri(location, "m-1") == (
        "mlflow-artifacts:/7/models/m-1/artifacts"
    )


def test_an_explicit_s3_location_is_kept() -> None:
    location = layout.experiment_artifact_location("7", "s3://other/place/")
    assert layout.run_artifact_uri(location, RUN_ID) == f"s3://other/place/{RUN_ID}/artifacts"


def test_the_proxy_path_and_the_object_key_name_the_same_run() -> None:
    uri = layout.run_artifact_uri(layout.experiment_artifact_location("7"), RUN_ID)
    path = uri.removeprefix(layout.ARTIFACTS_ROOT)
    key = layout.run_artifacts_prefix("team-a", "7", RUN_ID)
    assert key == f"team-a/experiments/{path}/"
    assert layout.model_artifacts_prefix("team-a", "7", MODEL_ID) == (
        f"team-a/experiments/7/models/{MODEL_ID}/artifacts/"
    )
