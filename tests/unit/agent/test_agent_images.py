from __future__ import annotations

from pathlib import Path

import pytest
from e2e.cluster.agent.images import Image, ImageNotFound, ImageTable, argv, normalise

PY = Path("/opt/env/bin")
MINIO = Path(__file__)  # any existing file stands for the binary


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("python:3.11", "python:3.11"),
        ("docker.io/library/python:3.11-slim", "python:3.11-slim"),
        ("index.docker.io/library/python", "python"),
        ("ghcr.io/mlkube/runtime:0.1@sha256:abc", "mlkube/runtime:0.1"),
        ("localhost:5000/mlkube/operator:dev", "mlkube/operator:dev"),
        ("minio/minio:RELEASE.2024", "minio/minio:RELEASE.2024"),
    ],
)
def test_references_are_normalised(reference: str, name: str) -> None:
    assert normalise(reference) == name


@pytest.fixture
def table() -> ImageTable:
    return ImageTable(PY, MINIO)


@pytest.mark.parametrize("reference", ["python:3.11", "python:3", "python", "python:3.12-slim"])
def test_python_images_run_the_project_interpreter(table: ImageTable, reference: str) -> None:
    image = table.resolve(reference)
    assert image.env["PATH"].startswith(f"{PY}:")
    assert image.cmd == ("python3",)
    assert image.entrypoint == ()


def test_mlkube_images_run_from_the_project_env_with_their_entrypoints(table: ImageTable) -> None:
    assert table.resolve("mlkube/operator:0.1").entrypoint == ("mlkube-operator",)
    assert table.resolve("mlkube/runtime:latest").entrypoint == ("mlkube",)
    other = table.resolve("mlkube/anything:1")
    assert other.entrypoint == ()
    assert other.env["PYTHONUNBUFFERED"] == "1"
    assert other.env["PATH"].startswith(f"{PY}:")


def test_minio_runs_the_cached_binary_through_its_entrypoint_script(table: ImageTable) -> None:
    image = table.resolve("minio/minio:latest")
    assert image.files == {"/usr/bin/minio": MINIO}
    assert argv(image, [], ["server", "/data"])[-2:] == ["server", "/data"]
    assert image.entrypoint[0] == "/bin/sh"


@pytest.mark.parametrize("reference", ["busybox", "nginx:1.25", "python:2.7", "evil/python:3"])
def test_unknown_images_are_not_found_with_a_message_naming_the_table(
    table: ImageTable, reference: str
) -> None:
    with pytest.raises(ImageNotFound, match=r"image table \(e2e/cluster/agent/images.py\)"):
        table.resolve(reference)


def test_an_image_whose_program_is_missing_says_so() -> None:
    with pytest.raises(ImageNotFound, match="not installed"):
        ImageTable(PY, None).resolve("minio/minio")
    with pytest.raises(ImageNotFound, match="not installed"):
        ImageTable(PY, Path("/nonexistent/minio")).resolve("minio/minio")


def test_command_and_args_combine_with_entrypoint_and_cmd_as_kubernetes_does() -> None:
    image = Image("x", "id", entrypoint=("ep",), cmd=("cmd", "default"))
    assert argv(image, [], []) == ["ep", "cmd", "default"]
    assert argv(image, [], ["a"]) == ["ep", "a"]
    assert argv(image, ["run"], []) == ["run"]
    assert argv(image, ["run"], ["a", "b"]) == ["run", "a", "b"]
