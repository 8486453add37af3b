"""What only the Run's pod knows about its project, set as tags through the tracking API.

``mlflow run`` tags a project run with its environment (``mlflow.project.env``) and the commit
it ran (``mlflow.source.git.commit``). The tracking server derives every other project tag from
the Run object (mlkube.projects.tags); these two need the fetched files, so the runner sets them,
as a client, with the pod's token: the tracking server stays the one writer of the Run's tags.

Part of runner.pyz: the standard library and mlkube.auth only, Python 3.9. It reads a git
checkout's HEAD from the files (the Run's image need not have git). Failing to set them never
fails the run.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from mlkube.auth import bearer_token
from mlkube.projects.mlproject import Project

# mlflow.utils.mlflow_tags names (tests check them against the installed mlflow).
ENV = "mlflow.project.env"
GIT_COMMIT = "mlflow.source.git.commit"
# mlkube.proxy.WORKSPACE_HEADER (proxy is not part of runner.pyz).
WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
# The operator writes the Run's id into its status as it creates the Job; a pod that starts
# first gets 404 for a moment.
ATTEMPTS = 6
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def environment(project: Project) -> str:
    """``mlflow.project.env`` for the environment the MLproject declares, named as `mlflow run`
    names it with its default environment manager: ``docker``, ``conda``, ``virtualenv`` (a
    python_env) or ``local`` (none). mlkube runs every project in the Run's image, adding a
    virtualenv only for python_env dependencies the image lacks."""
    if project.docker_env is not None:
        return "docker"
    if project.conda_env is not None:
        return "conda"
    if project.python_env is not None:
        return "virtualenv"
    return "local"


def _ref(git: Path, name: str) -> str | None:
    loose = git / name
    if loose.is_file():
        return loose.read_text().strip()
    packed = git / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            sha, _, ref = line.partition(" ")
            if ref == name:
                return sha
    return None


def _git_dirs(dot_git: Path) -> list[Path]:
    """Where a checkout's HEAD and refs live: ``.git`` itself, or for a linked worktree (whose
    ``.git`` is a file naming its git dir) that dir, then the repository's common dir, which
    holds the branches."""
    if dot_git.is_dir():
        return [dot_git]
    text = dot_git.read_text().strip()
    if not text.startswith("gitdir: "):
        return []
    own = (dot_git.parent / text[len("gitdir: ") :]).resolve()
    common = own / "commondir"
    if common.is_file():
        return [own, (own / common.read_text().strip()).resolve()]
    return [own]


def git_commit(directory: Path) -> str | None:
    """The commit checked out in the git checkout holding ``directory`` (read from its git
    files: HEAD, a loose ref or packed-refs, in a worktree's own dir or the common one), or
    None. Read from files because the Run's image need not have git."""
    for candidate in [directory, *directory.parents]:
        dot_git = candidate / ".git"
        if not dot_git.exists():
            continue
        try:
            dirs = _git_dirs(dot_git)
            if not dirs:
                return None
            head = (dirs[0] / "HEAD").read_text().strip()
            if head.startswith("ref: "):
                name = head[len("ref: ") :]
                head = next((c for c in (_ref(d, name) for d in dirs) if c), "")
        except (OSError, UnicodeDecodeError):
            return None
        return head if _COMMIT.match(head) else None
    return None


def project_tags(project: Project) -> dict[str, str]:
    tags = {ENV: environment(project)}
    commit = git_commit(project.directory)
    if commit:
        tags[GIT_COMMIT] = commit
    return tags


def report_in_background(env: Mapping[str, str], tags: Mapping[str, str]) -> threading.Thread:
    """``report`` ``tags`` while the entry point starts (join it before exiting)."""
    thread = threading.Thread(
        target=report, args=(dict(env), dict(tags)), name="mlkube-tags", daemon=True
    )
    thread.start()
    return thread


def report(env: Mapping[str, str], tags: Mapping[str, str], pause: float = 2.0) -> bool:
    """Set ``tags`` on the run ``MLFLOW_RUN_ID`` at ``MLFLOW_TRACKING_URI`` (log-batch); True
    when the server took them. Without a run (``mlkube project run`` on a laptop) or an http(s)
    tracking URI there is nothing to do."""
    uri = env.get("MLFLOW_TRACKING_URI", "")
    run_id = env.get("MLFLOW_RUN_ID")
    if not run_id or not uri.startswith(("http://", "https://")) or not tags:
        return False
    body = {"run_id": run_id, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
    url = uri.rstrip("/") + "/api/2.0/mlflow/runs/log-batch"
    problem = ""
    for attempt in range(ATTEMPTS):
        headers = {"Content-Type": "application/json"}
        token = bearer_token(env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if env.get("MLFLOW_WORKSPACE"):
            headers[WORKSPACE_HEADER] = env["MLFLOW_WORKSPACE"]
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                return True
        except urllib.error.HTTPError as err:
            problem = f"HTTP {err.code}: {err.read().decode(errors='replace')[:300]}"
            if err.code != 404 and err.code < 500:
                break
        except (urllib.error.URLError, OSError) as err:
            problem = str(err)
        if attempt + 1 < ATTEMPTS:
            time.sleep(pause * (attempt + 1))
    print(f"[mlkube] warning: the run's project tags were not set: {problem}", file=sys.stderr)
    return False
