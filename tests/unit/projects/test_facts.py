"""The runner sets mlflow.project.env and the checked-out commit through the tracking API (issue
14): against a loopback HTTP server that records what it is sent, as the tracking server's
``runs/log-batch`` would receive it."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlkube.projects import facts, runner
from mlkube.projects.mlproject import load_project

RUN_ID = "a" * 32


class Tracking:
    """What the loopback server received; ``refuse`` answers the first N calls with 404."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []  # headers: case-insensitive
        self.refuse = 0


@pytest.fixture
def tracking() -> Iterator[tuple[str, Tracking]]:
    seen = Tracking()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.calls.append((self.path, self.headers, body))
            code = 404 if len(seen.calls) <= seen.refuse else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    server.shutdown()
    server.server_close()


def git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def project_in_git(root: Path, python_env: bool = True) -> Path:
    git(root, "init", "--quiet", "-b", "main")
    project = root / "sub"
    project.mkdir()
    (project / "python_env.yaml").write_text("dependencies: []\n")
    env_line = "python_env: python_env.yaml\n" if python_env else ""
    (project / "MLproject").write_text(
        f"name: p\n{env_line}entry_points:\n  main:\n    command: \"python -c 'print(1)'\"\n"
    )
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "m")
    return project


def test_the_commit_is_read_from_the_checkout_without_git(tmp_path: Path) -> None:
    project = project_in_git(tmp_path)
    head = git(tmp_path, "rev-parse", "HEAD")
    assert facts.git_commit(project) == head  # HEAD -> refs/heads/main, a loose ref
    git(tmp_path, "pack-refs", "--all")
    assert facts.git_commit(project) == head  # the ref now in packed-refs
    git(tmp_path, "checkout", "--quiet", "--detach")
    assert facts.git_commit(project) == head  # a detached HEAD, as a checked-out commit is
    assert facts.git_commit(tmp_path.parent / "elsewhere") is None


def test_report_sends_the_tags_with_the_token_and_workspace(
    tmp_path: Path, tracking: tuple[str, Tracking]
) -> None:
    url, seen = tracking
    token = tmp_path / "token"
    token.write_text("pod-token\n")
    env = {
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_RUN_ID": RUN_ID,
        "MLFLOW_WORKSPACE": "ml",
        "MLKUBE_TOKEN_FILE": str(token),
    }
    seen.refuse = 2  # the Run has no id in its status yet
    assert facts.report(env, {"mlflow.project.env": "local"}, pause=0.01)
    assert len(seen.calls) == 3
    path, headers, body = seen.calls[-1]
    assert path == "/api/2.0/mlflow/runs/log-batch"
    assert headers["Authorization"] == "Bearer pod-token"
    assert headers["X-MLFLOW-WORKSPACE"] == "ml"
    assert body == {"run_id": RUN_ID, "tags": [{"key": "mlflow.project.env", "value": "local"}]}


def test_without_a_run_nothing_is_sent(tracking: tuple[str, Tracking]) -> None:
    url, seen = tracking
    assert not facts.report({"MLFLOW_TRACKING_URI": url}, {"k": "v"})
    assert seen.calls == []


def test_a_refusal_is_a_warning_not_a_failure(
    tracking: tuple[str, Tracking], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = tracking
    seen.refuse = facts.ATTEMPTS
    assert not facts.report({"MLFLOW_TRACKING_URI": url, "MLFLOW_RUN_ID": RUN_ID}, {"k": "v"}, 0)
    assert "tags were not set: HTTP 404" in capsys.readouterr().err


def test_the_runner_sets_the_env_and_commit_of_the_project_it_runs(
    tmp_path: Path, tracking: tuple[str, Tracking]
) -> None:
    url, seen = tracking
    (tmp_path / "repo").mkdir()
    project = project_in_git(tmp_path / "repo")
    env = {
        "PATH": "/usr/bin:/bin",
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_RUN_ID": RUN_ID,
    }
    args = argparse.Namespace(
        path=str(project),
        workdir=str(tmp_path / "w"),
        entry_point="main",
        param=[],
        auth_plugin=None,
        workers=1,
    )
    assert runner.run(args, env) == 0
    tags = {t["key"]: t["value"] for t in seen.calls[-1][2]["tags"]}
    assert tags == {
        "mlflow.project.env": facts.environment(load_project(project)),
        "mlflow.source.git.commit": git(project, "rev-parse", "HEAD"),
    }
    assert tags["mlflow.project.env"] == "virtualenv"


# -- the ranks of a distributed Run (spec.workers > 1): one MLflow run, rank 0's -------------

SHOW_ENV = """\
import json, os, sys
names = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "RANK", "WORLD_SIZE")
open(sys.argv[1], "w").write(json.dumps({n: os.environ.get(n) for n in names}))
"""


def run_rank(
    tmp_path: Path, url: str, rank: str, workers: int = 3
) -> tuple[int, dict[str, str | None]]:
    """Run a project that records its environment as rank ``rank``; its exit code and what
    its code saw."""
    project = tmp_path / f"rank-{rank}"
    project.mkdir()
    (project / "show.py").write_text(SHOW_ENV)
    seen_file = tmp_path / f"seen-{rank}.json"
    (project / "MLproject").write_text(
        f'name: p\nentry_points:\n  main:\n    command: "python show.py {seen_file}"\n'
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_RUN_ID": RUN_ID,
        "MLFLOW_EXPERIMENT_ID": "3",
        "RANK": rank,
        "WORLD_SIZE": str(workers),
    }
    args = argparse.Namespace(
        path=str(project),
        workdir=str(tmp_path / f"w-{rank}"),
        entry_point="main",
        param=[],
        auth_plugin=None,
        workers=workers,
    )
    code = runner.run(args, env)
    return code, json.loads(seen_file.read_text()) if seen_file.exists() else {}


def test_rank_0_owns_the_run_and_the_others_only_tag_their_host(
    tmp_path: Path, tracking: tuple[str, Tracking]
) -> None:
    url, seen = tracking
    code, saw = run_rank(tmp_path, url, "0")
    assert code == 0
    assert (saw["MLFLOW_RUN_ID"], saw["MLFLOW_TRACKING_URI"]) == (RUN_ID, url)
    tags = {t["key"]: t["value"] for t in seen.calls[-1][2]["tags"]}
    assert tags == {"mlflow.project.env": "local", "mlkube.rank.0.host": socket.gethostname()}

    code, saw = run_rank(tmp_path, url, "2")
    assert code == 0
    # Its code cannot log to the run, nor make a second one in the experiment.
    assert saw == {
        "MLFLOW_RUN_ID": None,
        "MLFLOW_TRACKING_URI": None,
        "MLFLOW_EXPERIMENT_ID": None,
        "RANK": "2",
        "WORLD_SIZE": "3",
    }
    path, _, body = seen.calls[-1]
    assert path == "/api/2.0/mlflow/runs/log-batch"
    assert body == {
        "run_id": RUN_ID,
        "tags": [{"key": "mlkube.rank.2.host", "value": socket.gethostname()}],
    }
    assert len(seen.calls) == 2


def test_a_rank_outside_the_run_fails_before_the_code_runs(
    tmp_path: Path,
    tracking: tuple[str, Tracking],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = tracking
    message = tmp_path / "termination-log"
    monkeypatch.setenv("MLKUBE_TERMINATION_LOG", str(message))
    code, saw = run_rank(tmp_path, url, "3")
    assert (code, saw, seen.calls) == (2, {}, [])
    assert message.read_text() == "RANK is '3', not one of the run's ranks 0..2\n"
