"""Object keys are derived from validated ids; request paths cannot choose them."""

from __future__ import annotations

import pytest

from mlkube import layout

RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-0123456789abcdef0123456789abcdef"


def test_run_and_model_paths() -> None:
    path = layout.parse_artifact_path(f"7/{RUN}/artifacts/model/MLmodel")
    assert path is not None
    assert path.key("team") == f"team/experiments/7/{RUN}/artifacts/model/MLmodel"
    model = layout.parse_artifact_path(f"7/models/{MODEL}/artifacts/model.pkl")
    assert model is not None
    assert model.key("team") == f"team/experiments/7/models/{MODEL}/artifacts/model.pkl"
    assert layout.parse_artifact_path("7") is None
    assert layout.parse_artifact_path(f"7/{RUN}//artifacts/./a//b") == layout.ArtifactPath(
        "7", layout.Owner.RUN, RUN, "a/b"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "/7/x",
        f"7/{RUN}/artifacts/../../x",
        f"7/{RUN}/other/x",
        "7/UPPER/artifacts/x",
        "x/y/z",
        f"7/{RUN}/artifacts/a\x00b",
        f"7/{RUN}/artifacts/a\\..\\b",
    ],
)
def test_rejected_paths(raw: str) -> None:
    with pytest.raises(layout.LayoutError):
        layout.parse_artifact_path(raw)


def test_namespaces_and_metric_keys_are_checked() -> None:
    with pytest.raises(layout.LayoutError):
        layout.experiment_prefix("../etc", "1")
    assert "/" not in layout.metric_key_segment("a/b/../c")
