"""runner.pyz runs a project on a bare python3: checked with separate interpreters started with
``-I -S``, which see no site-packages (no mlkube, no PyYAML, no packaging) and no PYTHON*
variables, as a user's image with nothing but Python would."""

from __future__ import annotations

import base64
import glob
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlkube.projects.bundle import RUNNER_MODULES, runner_bytes, write_runner

MLPROJECT = """\
name: tiny
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      label: string
    command: "python train.py --alpha {alpha} --label {label}"
  fail:
    command: "python -c 'import sys; print(\\"boom\\", file=sys.stderr); sys.exit(3)'"
"""
TRAIN = """\
import sys
print("trained", sys.argv[1:], "on", "%d.%d" % sys.version_info[:2])
"""


def _oldest_python() -> str | None:
    """A Python 3.9 (the oldest a Run's image may have), when this machine has one."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = shutil.which("python3.9")
    for candidate in [found, *sorted(glob.glob(f"{root}/versions/3.9*/bin/python3.9"))]:
        if candidate:
            probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
            if probe.returncode == 0:
                return candidate
    return None


OLDEST = _oldest_python()
INTERPRETERS = [
    pytest.param(sys.executable, id=f"python{sys.version_info[0]}.{sys.version_info[1]}"),
    pytest.param(
        OLDEST,
        id="python3.9",
        marks=pytest.mark.skipif(OLDEST is None, reason="no python3.9 on this machine"),
    ),
]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_runner(tmp_path_factory.mktemp("mlkube") / "runner.pyz")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "MLproject").write_text(MLPROJECT)
    (directory / "train.py").write_text(TRAIN)
    return directory


def run_isolated(
    python: str, runner: Path, tmp_path: Path, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the zipapp as a Job's main container does; return the process and the termination
    message it left."""
    message = tmp_path / "termination-log"
    result = subprocess.run(
        [python, "-I", "-S", str(runner), "--workdir", str(tmp_path / "work"), *args],
        # A PATH without `python` (only python3, as on Debian): the runner must provide one.
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "MLKUBE_TERMINATION_LOG": str(message),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result, message.read_text().strip() if message.exists() else ""


def test_the_zipapp_holds_sources_only_and_is_reproducible() -> None:
    first = runner_bytes()
    assert first == runner_bytes()
    assert first.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        names = archive.namelist()
    assert "__main__.py" in names
    assert set(RUNNER_MODULES) <= set(names)
    assert {"yaml/__init__.py", "packaging/requirements.py"} <= set(names)
    assert any(n.startswith("licenses/PyYAML/") for n in names)
    assert all(n.endswith(".py") or n.startswith("licenses/") for n in names), names
    # Nothing that needs a compiled or 3.10+-only dependency travels along.
    assert not any(n.startswith(("mlkube/api", "pydantic", "minio")) for n in names)


@pytest.mark.parametrize("python", INTERPRETERS)
def test_runs_a_project_with_an_isolated_interpreter(
    python: str, runner: Path, project: Path, tmp_path: Path
) -> None:
    result, message = run_isolated(
        python, runner, tmp_path, "--path", str(project), "-P", "label=a b", "-P", "extra=1"
    )
    assert result.returncode == 0, result.stderr
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert result.stdout.splitlines() == [
        "[mlkube] tiny:main $ python train.py --alpha 0.5 --label 'a b' --extra 1",
        f"trained ['--alpha', '0.5', '--label', 'a b', '--extra', '1'] on {version}",
    ]
    assert message == ""


@pytest.mark.parametrize("python", INTERPRETERS)
def test_a_failing_entry_point_keeps_its_exit_code_and_leaves_its_error(
    python: str, runner: Path, project: Path, tmp_path: Path
) -> None:
    result, message = run_isolated(python, runner, tmp_path, "--path", str(project), "-e", "fail")
    assert result.returncode == 3
    assert "boom" in result.stdout
    assert message == "exit code 3: boom"


def test_a_bad_parameter_fails_before_running(runner: Path, project: Path, tmp_path: Path) -> None:
    result, message = run_isolated(
        sys.executable, runner, tmp_path, "--path", str(project), "-P", "alpha=x", "-P", "label=l"
    )
    assert result.returncode == 2
    assert message == "parameter 'alpha': expected float, got 'x'"
    assert "[mlkube] error: parameter 'alpha'" in result.stderr


def test_an_invalid_mlproject_is_explained_with_its_path(runner: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "MLproject").write_text("entry_points:\n  main: {parameters: {a: complex}}\n")
    result, message = run_isolated(sys.executable, runner, tmp_path, "--path", str(broken))
    assert result.returncode == 2
    assert message == (
        "MLproject: entry_points.main.command: required field is missing; "
        "entry_points.main.parameters.a: expected one of string, float, int, path, uri, "
        "got 'complex'"
    )


def _wheel(directory: Path, name: str, version: str, module: str) -> Path:
    """A minimal pure-Python wheel, so pip installs without an index."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def test_missing_requirements_go_into_a_virtualenv_that_keeps_the_images_packages(
    runner: Path, project: Path, tmp_path: Path
) -> None:
    # The image's python3 is itself a virtualenv holding a package, as mlkube-runtime's is.
    image = tmp_path / "image-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(image)], check=True)
    purelib = subprocess.run(
        [
            str(image / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "fromimage.py").write_text("NAME = 'image'\n")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "mlkubetiny", "1.0", "VALUE = 42\n")
    (project / "python_env.yaml").write_text("python: '3'\ndependencies: [mlkubetiny==1.0]\n")
    (project / "MLproject").write_text(
        MLPROJECT.replace("name: tiny\n", "name: tiny\npython_env: python_env.yaml\n")
    )
    (project / "train.py").write_text(
        "import sys, fromimage, mlkubetiny\n"
        "print('tiny', mlkubetiny.VALUE, fromimage.NAME, sys.prefix)\n"
    )
    result, message = run_isolated(
        str(image / "bin" / "python"),
        runner,
        tmp_path,
        "--path",
        str(project),
        "-P",
        "label=x",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
    )
    assert result.returncode == 0, (result.stdout, result.stderr, message)
    venv = tmp_path / "work" / "venv"
    assert f"[mlkube] creating a virtualenv in {venv}" in result.stdout
    assert "[mlkube] installing mlkubetiny==1.0" in result.stdout
    assert f"tiny 42 image {venv}" in result.stdout
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
