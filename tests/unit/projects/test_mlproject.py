"""MLproject parsing, parameter checking and command rendering (MLflow's semantics)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.projects.command import render_command
from mlkube.projects.mlproject import ProjectError, load_project, parse_mlproject

MLPROJECT = """
name: elasticnet
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      epochs: {type: int, default: 10}
      data: path
      model_uri: {type: uri, default: "s3://mlkube/models/x"}
      note: {type: string, default: "hello world"}
    command: "python train.py --alpha {alpha} --epochs {epochs} --data {data} --note {note}"
  validate:
    parameters:
      threshold: float
    command: "python validate.py {threshold}"
"""


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "MLproject").write_text(MLPROJECT)
    (tmp_path / "python_env.yaml").write_text("python: '3.11'\ndependencies: [scikit-learn]\n")
    (tmp_path / "train.py").write_text("print('train')\n")
    (tmp_path / "run me.sh").write_text("echo hi\n")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    return tmp_path


def test_parses_entry_points_with_types_and_defaults(project_dir: Path) -> None:
    project = load_project(project_dir)
    assert project.name == "elasticnet"
    assert project.python_env == project_dir / "python_env.yaml"
    main = project.entry_point("main")
    assert {n: (p.type, p.default) for n, p in main.parameters.items()} == {
        "alpha": ("float", "0.5"),
        "epochs": ("int", "10"),
        "data": ("path", None),
        "model_uri": ("uri", "s3://mlkube/models/x"),
        "note": ("string", "hello world"),
    }


def test_substitutes_quoted_values_and_appends_unknown_parameters(project_dir: Path) -> None:
    main = load_project(project_dir).entry_point("main")
    command = render_command(
        main, {"data": "data.csv", "alpha": "0.1", "max depth": "3; rm -rf /"}, workdir=project_dir
    )
    assert command == (
        f"python train.py --alpha 0.1 --epochs 10 --data {project_dir / 'data.csv'} "
        "--note 'hello world' --'max depth' '3; rm -rf /'"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"data": "data.csv", "alpha": "abc"}, "parameter 'alpha': expected float, got 'abc'"),
        ({"data": "data.csv", "epochs": "2.5"}, "parameter 'epochs': expected int, got '2.5'"),
        (
            {"data": "data.csv", "model_uri": "models/x"},
            "parameter 'model_uri': expected a URI with a scheme (such as s3://bucket/key), "
            "got 'models/x'",
        ),
        ({"data": "missing.csv"}, "parameter 'data': no such file or directory 'missing.csv'"),
        ({}, "entry point 'main': no value given for parameter(s) 'data'"),
    ],
)
def test_bad_values_name_the_parameter_and_the_type(
    project_dir: Path, given: dict[str, str], message: str
) -> None:
    main = load_project(project_dir).entry_point("main")
    with pytest.raises(ProjectError) as err:
        render_command(main, given, workdir=project_dir)
    assert str(err.value) == message


def test_scripts_run_without_an_mlproject(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "run me.sh").write_text("echo 1\n")
    project = load_project(tmp_path)
    assert project.name == tmp_path.name
    assert render_command(project.entry_point("train.py"), {"lr": "0.1"}, workdir=tmp_path) == (
        "python train.py --lr 0.1"
    )
    assert project.entry_point("run me.sh").command == "bash 'run me.sh'"


def test_unknown_entry_point_lists_the_known_ones(project_dir: Path) -> None:
    with pytest.raises(ProjectError) as err:
        load_project(project_dir).entry_point("trian")
    assert str(err.value) == (
        "entry point 'trian' is not defined in the MLproject (defined: main, validate) and is "
        "not a .py or .sh file of the project"
    )


def test_command_placeholder_without_a_parameter_is_an_error(tmp_path: Path) -> None:
    project = parse_mlproject("entry_points:\n  main:\n    command: 'python t.py {lr}'\n", tmp_path)
    with pytest.raises(ProjectError, match=r"uses \{lr\}, which is not a declared parameter"):
        render_command(project.entry_point("main"), {}, workdir=tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [", "MLproject is not valid YAML"),
        ("- a\n- b\n", "MLproject must be a YAML mapping"),
        (
            "entry_points:\n  main:\n    parameters: {a: {type: complex}}\n    command: x\n",
            "MLproject: entry_points.main.parameters.a",
        ),
        ("entry_points:\n  main: {}\n", "MLproject: entry_points.main.command: required"),
        (
            "python_env: p.yaml\ndocker_env: {image: x}\n",
            "set at most one of python_env, conda_env, docker_env (got python_env, docker_env)",
        ),
        ("python_env: ../../etc/passwd\n", "python_env must be a file inside the project"),
    ],
)
def test_invalid_mlproject_is_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProjectError) as err:
        parse_mlproject(text, tmp_path)
    assert message in str(err.value)


def test_docker_env_is_read(tmp_path: Path) -> None:
    project = parse_mlproject(
        "docker_env:\n  image: python:3.11\n  environment: [A, [B, '1']]\n"
        "entry_points:\n  main: {command: 'python t.py'}\n",
        tmp_path,
    )
    assert project.docker_env is not None
    assert project.docker_env.image == "python:3.11"
