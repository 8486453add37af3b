"""``python -m mlkube.recipes [--step STEP] [DIRECTORY]``: a recipe's steps in a Run's pod.

The cluster profile's entry point (``cluster.MLPROJECT``). It continues the Run's own MLflow run
(``MLFLOW_RUN_ID``) and lets an error end the program with its traceback: the runner puts the
exception's line first in the Run's message (``...ModelNotValidated: model 'x' was not
registered: ... test rmse = 54.2, threshold: at most 10``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mlkube.recipes import engine
from mlkube.recipes.config import STEPS, load_recipe


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlkube.recipes")
    parser.add_argument("directory", nargs="?", default=".", type=Path)
    parser.add_argument("--step", choices=STEPS)
    args = parser.parse_args(argv)
    recipe = load_recipe(args.directory)
    with tempfile.TemporaryDirectory(prefix="mlkube-recipe-") as work:
        engine.run(
            recipe, args.directory, args.step, work=Path(work), may_set_alias=False, new_run=False
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
