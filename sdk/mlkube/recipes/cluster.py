"""The cluster profile: the recipe runs as an mlkube Run, submitted as ``mlkube run`` submits a
project, and this waits for it.

The project uploaded is the recipe's directory plus the recipe engine (``bundle``: mlkube's
``__init__`` and ``cache.engine_sources``, which import nothing else of mlkube) and an MLproject
whose entry point is ``python -m mlkube.recipes``. So the Run's image needs Python >= 3.11 with
mlflow, scikit-learn and pandas (mlkube's runtime image has them), and no mlkube.

Run pods may create model versions but not move aliases (docs/security.md): when the Run
succeeds, this sets ``steps.register.alias`` with the caller's own credentials.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import mlflow
import yaml
from mlflow.tracking import MlflowClient

import mlkube
from mlkube import layout
from mlkube.client.errors import MlkubeError
from mlkube.client.submit import Source
from mlkube.projects.archive import project_files
from mlkube.projects.facts import git_commit
from mlkube.recipes import cache
from mlkube.recipes.config import STEPS, Profile, Recipe
from mlkube.recipes.steps import register

MLPROJECT = "MLproject"
ENGINE = "mlkube"
# The recipe's local scratch folder (commands.WORK) never travels.
LOCAL_ONLY = (".mlkube",)
# How much longer than the Run's own deadline this waits for it to end.
GRACE_SECONDS = 120


def bundle() -> Iterator[tuple[str, Path]]:
    """(path in the project, source file) of the engine the pod runs."""
    yield f"{ENGINE}/__init__.py", Path(mlkube.__file__).parent / "__init__.py"
    for relative, path in cache.engine_sources():
        yield f"{ENGINE}/recipes/{relative}", path


def mlproject(recipe: Recipe) -> str:
    return yaml.safe_dump(
        {
            "name": recipe.name,
            "entry_points": {
                "main": {
                    "parameters": {"step": {"type": "string", "default": "register"}},
                    "command": "python -m mlkube.recipes --step {step} .",
                }
            },
        },
        sort_keys=False,
    )


def stage(directory: Path, recipe: Recipe, into: Path) -> None:
    """Lay out the project: the recipe's files (less what .gitignore, .mlkubeignore and
    LOCAL_ONLY leave out), the engine, and the MLproject (replacing any of the recipe's own)."""
    root = directory.resolve()
    for path in project_files(root):
        relative = path.relative_to(root)
        if relative.parts[0] in LOCAL_ONLY or relative.parts[0] in {ENGINE, MLPROJECT}:
            continue
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, into / relative)
    for name, source in bundle():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, into / name)
    (into / MLPROJECT).write_text(mlproject(recipe))


def _steps_report(tags: Mapping[str, str]) -> None:
    for step in STEPS:
        state = tags.get(cache.state_tag(step))
        if state:
            origin = tags.get(cache.from_tag(step))
            print(f"{step}: {state}" + (f", from run {origin}" if origin else ""))


def submit(
    directory: Path,
    recipe: Recipe,
    profile: Profile,
    step: str | None,
    *,
    namespace: str,
    env: Mapping[str, str],
) -> int:
    """Upload the recipe, create its Run, wait for it; the exit code for `mlkube recipes run`."""
    from mlkube.client import Client  # the Kubernetes client: import on use

    commit = git_commit(directory)
    annotations = {layout.GIT_COMMIT_ANNOTATION: commit} if commit else {}
    print(f"uploading recipe {recipe.name} from {directory} ...", flush=True)
    try:
        with (
            Client(namespace, env=env) as client,
            tempfile.TemporaryDirectory(prefix="mlkube-recipe-") as tmp,
        ):
            stage(directory, recipe, Path(tmp))
            made = client.submit_project(
                None,
                {"step": step or "register"},
                recipe.name,
                source=Source(directory=Path(tmp), annotations=annotations),
                deadline_seconds=profile.timeout_seconds,
                image=profile.image,
            )
            name = made.metadata.name
            print(f"run/{name} created in namespace {namespace}")
            print(f"  watch it:  mlkube runs get {name} -n {namespace}")
            print(f"  its logs:  mlkube runs logs {name} -n {namespace} -f")
            run = client.wait_for_run(made, profile.timeout_seconds + GRACE_SECONDS)
    except MlkubeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"run/{name}: {run.status.phase}"
        + (f": {run.status.message}" if run.status.message else "")
    )
    if not run.status.run_id:
        return 1
    mlflow.set_workspace(namespace)
    tracking = MlflowClient()
    tags = tracking.get_run(run.status.run_id).data.tags
    _steps_report(tags)
    if run.status.phase != "Succeeded":
        return 1
    alias = recipe.steps.register.alias
    version = tags.get(register.VERSION_TAG)
    if alias and version and tags.get(cache.state_tag("register")):
        register.promote(tracking, recipe.model_name, version, alias)
        print(f"register: {recipe.model_name}@{alias} is version {version}")
    return 0
