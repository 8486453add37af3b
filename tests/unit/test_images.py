"""The pure parts of images/ (keys, refs, wheel sets, the index); no podman is run here."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from images import inputs, podman, spec
from images.build import index_path
from images.shell import Log

from mlkube_operator.server.http import ui

ROOT = Path(__file__).resolve().parents[2]


def make_context(root: Path, dockerfile: str = "FROM scratch\nCOPY pause /pause\n") -> Path:
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "pause").write_bytes(b"\x7fELF...")
    (root / "pause").chmod(0o755)
    return root


def test_content_key_changes_with_the_dockerfile_and_only_then(tmp_path: Path) -> None:
    context = make_context(tmp_path / "a")
    key = spec.content_key(context, "base", {"refs": ["docker.io/mlkube/pause:0.1.0"]})

    assert spec.content_key(context, "base", {"refs": ["docker.io/mlkube/pause:0.1.0"]}) == key
    # The key depends on the content, not on where the context is staged.
    copy = shutil.copytree(context, tmp_path / "b")
    assert spec.content_key(copy, "base", {"refs": ["docker.io/mlkube/pause:0.1.0"]}) == key

    (context / "Dockerfile").write_text("FROM scratch\nCOPY pause /pause\nUSER 65535\n")
    changed = spec.content_key(context, "base", {"refs": ["docker.io/mlkube/pause:0.1.0"]})
    assert changed != key


def test_content_key_follows_files_modes_base_and_metadata(tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx")
    key = spec.content_key(context, "base", {"labels": {"a": "1"}})

    assert spec.content_key(context, "other-base", {"labels": {"a": "1"}}) != key
    assert spec.content_key(context, "base", {"labels": {"a": "2"}}) != key
    (context / "pause").chmod(0o644)
    assert spec.content_key(context, "base", {"labels": {"a": "1"}}) != key
    (context / "pause").chmod(0o755)
    (context / "requirements.lock").write_text("numpy==2.0 --hash=sha256:00\n")
    assert spec.content_key(context, "base", {"labels": {"a": "1"}}) != key


def test_refs_default_and_for_a_registry() -> None:
    mlkube = spec.BY_NAME["mlkube"]
    assert mlkube.ref() == f"docker.io/mlkube/mlkube:{spec.VERSION}"
    assert mlkube.ref("registry.example.com/team/") == (
        f"registry.example.com/team/mlkube/mlkube:{spec.VERSION}"
    )
    assert spec.BY_NAME["mlkube-runtime"].refs("0.1.0") == [
        "docker.io/mlkube/mlkube-runtime:0.1.0",
        "docker.io/library/python:3.11",
        "docker.io/library/python:3",
    ]
    assert "registry.k8s.io/pause:3.10" in spec.BY_NAME["pause"].refs()


def test_every_image_has_a_dockerfile_and_its_base_is_built_first() -> None:
    seen: set[str] = set()
    for image in spec.IMAGES:
        assert (image.context / "Dockerfile").is_file(), image.name
        assert image.base is None or image.base in seen, image.name
        seen.add(image.name)


def test_selected_adds_bases_and_rejects_unknown_names() -> None:
    assert [i.name for i in spec.selected(["mlkube"])] == ["debian-python", "mlkube"]
    assert [i.name for i in spec.selected(["pause"])] == ["pause"]
    assert len(spec.selected([])) == len(spec.IMAGES)
    with pytest.raises(spec.BuildError, match="unknown image"):
        spec.selected(["busybox"])


def test_wheel_sets_come_from_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sets = spec.wheel_sets(pyproject)
    dev_mlflow = [r for r in pyproject["project"]["optional-dependencies"]["dev"] if "mlflow" in r]

    assert dev_mlflow[0] in sets["runtime"]
    assert {r.split(">")[0] for r in sets["runtime"][1:]} == {"numpy", "pandas", "scikit-learn"}
    assert not [r for r in sets["mlkube"] if r.startswith("mlkube")]
    assert "kopf>=1.37" in sets["mlkube"]
    assert "uvicorn[standard]>=0.30" in sets["mlkube"]


def test_requirements_and_rootfs_keys() -> None:
    assert spec.requirements_key(["a", "b"]) == spec.requirements_key(["b", "a"])
    assert spec.requirements_key(["a"]) != spec.requirements_key(["a", "b"])
    assert spec.rootfs_key(["python3", "tini"]) == spec.rootfs_key(["tini", "python3"])
    assert spec.rootfs_key(["python3"]) != spec.rootfs_key(["python3", "tini"])


def test_lock_lines_pin_every_wheel_by_hash() -> None:
    lines = spec.lock_lines(
        {
            "scikit_learn-1.9.1-cp311-cp311-manylinux_2_27_x86_64.whl": "ab",
            "PyYAML-6.0.4-cp311-cp311-manylinux2014_x86_64.whl": "cd",
        }
    )
    assert lines == ["pyyaml==6.0.4 --hash=sha256:cd", "scikit-learn==1.9.1 --hash=sha256:ab"]


def test_index_has_exactly_the_shape_the_harness_reads(tmp_path: Path) -> None:
    archive = tmp_path / "pause-0123456789abcdef.oci.tar"
    document = spec.index_document(
        [
            {
                "name": "pause",
                "refs": ("docker.io/mlkube/pause:0.1.0", "registry.k8s.io/pause:3.10"),
                "archive": archive,
                "key": "0123456789abcdef",
                "ignored": "not in the index",
            }
        ],
        version="0.1.0",
    )
    assert json.loads(json.dumps(document)) == {
        "version": "0.1.0",
        "images": [
            {
                "name": "pause",
                "refs": ["docker.io/mlkube/pause:0.1.0", "registry.k8s.io/pause:3.10"],
                "archive": str(archive),
                "key": "0123456789abcdef",
            }
        ],
    }
    assert index_path() == spec.cache_dir() / "images" / "index.json"


def test_add_refs_names_the_manifest_with_every_ref(tmp_path: Path) -> None:
    manifest = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:00"}
    index = {"schemaVersion": 2, "manifests": [{**manifest, "annotations": {"x": "y"}}]}
    source = tmp_path / "in.tar"
    with tarfile.open(source, "w") as tar:
        for name, data in (("blobs/sha256/00", b"{}"), ("index.json", json.dumps(index).encode())):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))

    podman.add_refs(
        source, ["docker.io/mlkube/pause:0.1.0", "registry.k8s.io/pause:3.10"], tmp_path / "out.tar"
    )

    with tarfile.open(tmp_path / "out.tar") as tar:
        assert tar.getnames() == ["blobs/sha256/00", "index.json"]
        handle = tar.extractfile("index.json")
        assert handle is not None
        written = json.load(handle)
    assert [
        m["annotations"]["org.opencontainers.image.ref.name"] for m in written["manifests"]
    ] == [
        "docker.io/mlkube/pause:0.1.0",
        "registry.k8s.io/pause:3.10",
    ]
    assert {m["digest"] for m in written["manifests"]} == {"sha256:00"}
    assert all(m["annotations"]["x"] == "y" for m in written["manifests"])


def test_the_source_label_never_comes_from_the_clones_remote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh clone's remote is a local path: as a label it would change every content key."""
    from images import build

    monkeypatch.setattr(build, "_git", lambda *args: "/some/where/main")
    assert build.source_url({"project": {}}) is None
    urls = {"project": {"urls": {"Source": "https://example.org/mlkube"}}}
    assert build.source_url(urls) == "https://example.org/mlkube"


UI = "mlflow/server/js/build/"


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


MLFLOW_MEMBERS = {
    "mlflow/__init__.py": b"",
    f"{UI}index.html": b'<script src="static-files/static/js/main.0a1b2c3d.js">',
    f"{UI}static/js/main.0a1b2c3d.js": b"console.log(1)",
    f"{UI}favicon.ico": b"\0\0\1\0",
    "mlflow/server/js/__init__.py": b"",
}


def test_ui_members_are_the_bundle_and_nothing_else() -> None:
    assert spec.ui_members([*MLFLOW_MEMBERS, f"{UI}static/"]) == {
        f"{UI}index.html": "index.html",
        f"{UI}static/js/main.0a1b2c3d.js": "static/js/main.0a1b2c3d.js",
        f"{UI}favicon.ico": "favicon.ico",
    }


@pytest.mark.parametrize("bad", [f"{UI}../../evil.py", f"{UI}static/../../x", f"{UI}a\\..\\b"])
def test_a_member_leaving_the_bundle_stops_the_build(bad: str) -> None:
    with pytest.raises(spec.BuildError, match="leaves"):
        spec.ui_members([*MLFLOW_MEMBERS, bad])


def test_a_wheel_without_the_bundle_is_not_the_full_mlflow() -> None:
    with pytest.raises(spec.BuildError, match="mlflow-skinny"):
        spec.ui_members(["mlflow/__init__.py", f"{UI}static/js/x.js"])


def test_the_full_mlflow_wheel_of_a_set(tmp_path: Path) -> None:
    for name in (
        "mlflow-3.17.2-py3-none-any.whl",
        "mlflow_skinny-3.17.2-py3-none-any.whl",
        "mlflow_tracing-3.17.2-py3-none-any.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    assert spec.mlflow_wheel(tmp_path).name == "mlflow-3.17.2-py3-none-any.whl"
    (tmp_path / "mlflow-3.17.2-py3-none-any.whl").unlink()
    with pytest.raises(spec.BuildError, match="one mlflow wheel"):
        spec.mlflow_wheel(tmp_path)


def test_the_ui_is_extracted_once_per_wheel_with_the_same_key_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLKUBE_CACHE", str(tmp_path / "cache"))
    wheel = make_wheel(tmp_path / "mlflow-3.17.2-py3-none-any.whl", MLFLOW_MEMBERS)
    old = os.umask(0o077)
    try:
        first = inputs.ensure_mlflow_ui(wheel, Log(quiet=True))
    finally:
        os.umask(old)
    assert first.parent == spec.wheels_dir()
    assert (first / "static/js/main.0a1b2c3d.js").read_bytes() == b"console.log(1)"
    assert sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file()) == [
        "favicon.ico",
        "index.html",
        "static/js/main.0a1b2c3d.js",
    ]
    key = spec.content_key(first, None, {})

    # Cached: a second call extracts nothing (a file changed by hand stays changed).
    (first / "favicon.ico").write_bytes(b"edited")
    assert inputs.ensure_mlflow_ui(wheel, Log(quiet=True)) == first
    assert (first / "favicon.ico").read_bytes() == b"edited"

    # Another wheel is another directory; the old one goes. Under another umask, the same key.
    other = make_wheel(tmp_path / "other.whl", {**MLFLOW_MEMBERS, "mlflow/version.py": b"x"})
    second = inputs.ensure_mlflow_ui(other, Log(quiet=True))
    assert second != first
    assert not first.exists()
    assert spec.content_key(second, None, {}) == key
    assert {p.stat().st_mode & 0o777 for p in second.rglob("*") if p.is_file()} == {0o644}


def test_the_mlkube_image_serves_the_bundle_where_the_server_expects_it() -> None:
    dockerfile = (ROOT / "images" / "mlkube" / "Dockerfile").read_text()
    assert spec.UI_DIR == ui.IMAGE_UI_DIR
    assert f"COPY mlflow-ui {spec.UI_DIR}\n" in dockerfile
    assert f"MLKUBE_UI_DIR={spec.UI_DIR}\n" in dockerfile
