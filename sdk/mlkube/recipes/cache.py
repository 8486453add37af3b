"""Step caching: a step's key is the hash of everything its result depends on, and the cache is
the tracking server itself.

The key covers the step's settings, the recipe's kind and target, its hook file, the keys of the
steps it reads, the libraries that compute it (Python, scikit-learn, pandas, numpy, mlflow) and
this engine's own source. A run that computed a step logs its outputs under ``recipe/<step>/``
and then, last, tags itself ``mlkube.recipe.step.<step>.key = <key>``: the tag commits the entry.
A later run of the same experiment, in this process or in a Run's pod, finds that run by the tag
and reuses its outputs, so the cluster profile caches across pods without a volume. ``forget``
(``mlkube recipes clean``) deletes the tags; the runs and their artifacts stay as history.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from mlkube.recipes import hooks
from mlkube.recipes.config import Recipe
from mlkube.recipes.context import OUTPUTS, RESULT, Record, fetch_file

# Raise when the meaning of a key or of the stored outputs changes.
FORMAT = 1
LIBRARIES = ("scikit-learn", "pandas", "numpy", "mlflow", "pyarrow")
RECIPE_TAG = "mlkube.recipe.name"


def key_tag(step: str) -> str:
    return f"mlkube.recipe.step.{step}.key"


def state_tag(step: str) -> str:
    """``ran`` or ``cached`` in each run; ``cached`` runs also say where from (``from_tag``)."""
    return f"mlkube.recipe.step.{step}"


def from_tag(step: str) -> str:
    return f"mlkube.recipe.step.{step}.from"


# The command's side, never in a pod: they do not change what a step computes.
COMMAND_SIDE = ("commands.py", "cluster.py")


def engine_sources() -> Iterator[tuple[str, Path]]:
    """(path inside this package, file) of every module a step runs with: what the cluster
    profile ships into a pod, and what ``engine_digest`` hashes."""
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in {"templates", *COMMAND_SIDE} or "__pycache__" in relative.parts:
            continue
        yield relative.as_posix(), path


@functools.cache
def engine_digest() -> str:
    """sha256 of the engine's sources: a new engine computes every step again."""
    digest = hashlib.sha256()
    for relative, path in engine_sources():
        digest.update(relative.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def environment() -> dict[str, str]:
    found = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def settings_of(recipe: Recipe, step: str) -> dict[str, Any]:
    """What of recipe.yaml a step's result depends on."""
    core: dict[str, Any] = {"recipe": recipe.recipe, "target_col": recipe.target_col}
    if step == "evaluate":
        core |= {"positive_class": recipe.positive_class, "primary_metric": recipe.primary_metric}
    if step in {"train", "register", "predict"}:
        core["positive_class"] = recipe.positive_class
    if step == "register":
        core["registered_model_name"] = recipe.model_name
    # An alias moves after registration, cached or not (engine.promote): not part of the key.
    own = recipe.steps.of(step).model_dump(
        mode="json", exclude={"alias"} if step == "register" else None
    )
    return core | own


def step_key(
    recipe: Recipe,
    directory: Path,
    step: str,
    upstream: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> str:
    material = {
        "format": FORMAT,
        "engine": engine_digest(),
        "environment": environment(),
        "step": step,
        "settings": settings_of(recipe, step),
        "hook": hooks.digest(directory, step),
        "upstream": dict(upstream),
        "extra": dict(extra or {}),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def find(
    client: MlflowClient, experiment_id: str, step: str, key: str, work: Path
) -> Record | None:
    """The newest run of the experiment that computed ``step`` with ``key``, as a Record."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{key_tag(step)}` = '{key}'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    if not found:
        return None
    run_id = found[0].info.run_id
    path = fetch_file(run_id, f"{OUTPUTS}/{step}/{RESULT}", work / "results" / f"{step}.json")
    return Record.from_result(json.loads(path.read_text()), run_id)


def _recipe_runs(client: MlflowClient, experiment_id: str, name: str) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RECIPE_TAG}` = '{name}'",
            max_results=500,
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def forget(client: MlflowClient, experiment_id: str, name: str) -> int:
    """Delete every cache entry of recipe ``name`` in the experiment; how many there were."""
    count = 0
    for run in _recipe_runs(client, experiment_id, name):
        for tag in run.data.tags:
            if tag.startswith("mlkube.recipe.step.") and tag.endswith(".key"):
                client.delete_tag(run.info.run_id, tag)
                count += 1
    return count
