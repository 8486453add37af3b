"""The user's hooks: functions in the recipe's ``steps/*.py``, loaded from their files.

A hook file is part of the cache key of its step (``digest``): editing ``steps/train.py``
retrains, and leaves ingestion alone. Code a hook imports from elsewhere is not tracked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlkube.recipes.errors import RecipeError

# step -> (file, function, how it is called): what `mlkube recipes init` writes.
HOOKS = {
    "ingest": ("steps/ingest.py", "load_data", "load_data() -> pandas.DataFrame"),
    "transform": ("steps/transform.py", "transformer", "transformer() -> a transformer or None"),
    "train": ("steps/train.py", "estimator", "estimator(**estimator_params) -> an estimator"),
}


def hook_file(directory: Path, step: str) -> Path:
    return directory / HOOKS[step][0]


def digest(directory: Path, step: str) -> str | None:
    """sha256 of the step's hook file, None for a step without one."""
    if step not in HOOKS:
        return None
    path = hook_file(directory, step)
    if not path.is_file():
        raise RecipeError(f"{path} does not exist: step {step} calls {HOOKS[step][2]} from it")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(directory: Path, step: str) -> Callable[..., Any]:
    """The step's hook function, its file executed as a fresh module."""
    relative, function, usage = HOOKS[step]
    path = directory / relative
    spec = importlib.util.spec_from_file_location(f"mlkube_recipe_steps.{step}", path)
    if spec is None or spec.loader is None:
        raise RecipeError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    # The hook's own directory first, so a hook can import a helper module beside it.
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        raise RecipeError(f"{path} does not exist: step {step} calls {usage} from it") from None
    finally:
        sys.path.remove(str(path.parent))
    found = getattr(module, function, None)
    if not callable(found):
        raise RecipeError(f"{path}: define {usage}")
    return found  # type: ignore[no-any-return]  # a user's function
