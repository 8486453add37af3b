"""Issue 14: the tracking server serves MLflow's own web UI bundle at / and /static-files/.

The reference bundle is the installed mlflow's (the pinned version, from the full wheel): what its
index.html loads must come back with the types a browser accepts under `nosniff`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from starlette.testclient import TestClient

from mlkube.objects import MemoryObjects
from mlkube_operator.server import main
from mlkube_operator.server.auth.guard import SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.settings import ServerSettings
from mlkube_operator.server.store.tracking.memory import InMemoryStore

MLFLOW_BUNDLE = Path(mlflow.__file__).parent / "server" / "js" / "build"
# What index.html loads: src="..." and href="..." (relative, under static-files/).
REFERENCE = re.compile(r'(?:src|href)="(?:\./)?([^"]+)"')


def client_for(ui_dir: Path | None) -> TestClient:
    services = Services(
        InMemoryStore(), MemoryObjects(), "default", "0.1.0", SingleUser(lambda: ["default"])
    )
    return TestClient(build_app(services, ui_dir=ui_dir), raise_server_exceptions=False)


@pytest.fixture
def mlflow_ui() -> Iterator[TestClient]:
    with client_for(MLFLOW_BUNDLE) as client:
        yield client


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A small bundle beside a file that must never be served."""
    root = tmp_path / "build"
    (root / "static" / "js").mkdir(parents=True)
    (root / "index.html").write_text('<script src="static-files/static/js/main.0a1b2c3d.js">')
    (root / "static" / "js" / "main.0a1b2c3d.js").write_text("console.log(1)")
    (root / "favicon.ico").write_bytes(b"\0\0\1\0")
    (tmp_path / "secret.txt").write_text("not public")
    return root


def test_the_index_of_mlflows_bundle_is_served_at_the_root(mlflow_ui: TestClient) -> None:
    response = mlflow_ui.get("/")

    assert response.status_code == 200
    assert response.content == (MLFLOW_BUNDLE / "index.html").read_bytes()
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # Its name stays across versions: a browser asks again (and gets a 304 while it is unchanged).
    assert response.headers["cache-control"] == "no-cache"
    again = mlflow_ui.get("/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_every_file_the_index_loads_is_served_with_its_type(mlflow_ui: TestClient) -> None:
    index = (MLFLOW_BUNDLE / "index.html").read_text()
    loaded = REFERENCE.findall(index)
    expected = {
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".ico": "image/x-icon",
        ".json": "application/json",
    }
    assert {Path(p).suffix for p in loaded} == set(expected), loaded
    for path in loaded:
        assert path.startswith("static-files/"), path
        response = mlflow_ui.get("/" + path)
        assert response.status_code == 200, path
        on_disk = MLFLOW_BUNDLE / path.removeprefix("static-files/")
        assert response.content == on_disk.read_bytes()
        assert response.headers["content-type"] == expected[Path(path).suffix]
        assert response.headers["x-content-type-options"] == "nosniff"
        hashed = bool(re.search(r"\.[0-9a-f]{8,}\.", path))
        assert response.headers["cache-control"] == (
            "public, max-age=31536000, immutable" if hashed else "no-cache"
        ), path


def test_fonts_and_module_scripts_of_the_bundle_have_their_types(mlflow_ui: TestClient) -> None:
    expected = {".woff2": "font/woff2", ".mjs": "text/javascript; charset=utf-8"}
    for suffix, kind in expected.items():
        found = sorted(MLFLOW_BUNDLE.rglob(f"*{suffix}"))
        assert found, suffix
        path = found[0].relative_to(MLFLOW_BUNDLE).as_posix()
        response = mlflow_ui.get(f"/static-files/{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"] == kind


@pytest.mark.parametrize(
    "path",
    [
        "/static-files/%2e%2e/secret.txt",
        "/static-files/..%2fsecret.txt",
        "/static-files/static/%2e%2e/%2e%2e/secret.txt",
        "/static-files//etc/passwd",
        "/static-files/%2fetc%2fpasswd",
        "/static-files/link.txt",
        "/static-files/static",
        "/static-files/",
        "/static-files/nothing.js",
    ],
)
def test_nothing_outside_the_bundle_and_no_directory_is_served(bundle: Path, path: str) -> None:
    (bundle / "link.txt").symlink_to(bundle.parent / "secret.txt")
    with client_for(bundle) as client:
        response = client.get(path)

    assert response.status_code == 404, response.text
    assert "not public" not in response.text
    assert "root:" not in response.text


def test_a_file_of_a_small_bundle_and_the_index(bundle: Path) -> None:
    with client_for(bundle) as client:
        script = client.get("/static-files/static/js/main.0a1b2c3d.js")
        icon = client.get("/static-files/favicon.ico")
        index = client.get("/")

    assert script.text == "console.log(1)"
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.headers["cache-control"] == "no-cache"
    assert index.text.startswith("<script")


def test_without_a_bundle_the_root_says_how_to_serve_the_ui() -> None:
    with client_for(None) as client:
        root = client.get("/")
        static = client.get("/static-files/favicon.ico")

    assert root.status_code == 404
    assert "--ui-dir" in root.text
    assert "MLKUBE_UI_DIR" in root.text
    assert static.status_code == 404
    assert static.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_the_ui_dir_setting_from_the_flag_or_the_environment(tmp_path: Path) -> None:
    assert ServerSettings.parse([], {}).ui_dir is None
    env = {"MLKUBE_UI_DIR": "/opt/mlkube/mlflow-ui"}
    assert ServerSettings.parse([], env).ui_dir == Path("/opt/mlkube/mlflow-ui")
    assert ServerSettings.parse(["--ui-dir", str(tmp_path)], env).ui_dir == tmp_path


def test_a_ui_dir_without_an_index_stops_the_server_naming_it(tmp_path: Path) -> None:
    settings = ServerSettings.parse(["--ui-dir", str(tmp_path)], {})
    with pytest.raises(SystemExit, match=r"holds no index\.html"):
        main.ui_bundle(settings)


def test_the_installed_bundle_is_named_in_the_log_but_not_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="mlkube.server"):
        assert main.ui_bundle(ServerSettings.parse([], {})) is None
    assert f"--ui-dir {MLFLOW_BUNDLE}" in caplog.text
    assert main.ui_bundle(ServerSettings.parse(["--ui-dir", str(MLFLOW_BUNDLE)], {})) == (
        MLFLOW_BUNDLE
    )
