"""What a step works with (Context), what it returns (Output) and what is kept of it (Record)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow.artifacts
from mlflow.tracking import MlflowClient

from mlkube.recipes.cards import Card
from mlkube.recipes.config import Recipe

# Where a step's outputs live among its run's artifacts: recipe/<step>/ (result.json beside them).
OUTPUTS = "recipe"
RESULT = "result.json"
CARDS = "cards"


@dataclass
class Output:
    """A step's work: ``value`` for the steps after it in this process; the rest is logged."""

    value: Any
    card: Card
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # JSON facts later steps read without loading anything (model URIs, the verdict)
    info: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


_UNSET: Any = object()


@dataclass
class Record:
    """A step's result (``recipe/<step>/result.json``), computed now or found in the cache.

    ``run_id`` is the run whose artifacts hold the step's outputs: this run's, or the earlier
    run that computed them (``cached``).
    """

    step: str
    key: str
    run_id: str
    cached: bool
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    info: dict[str, Any]
    value: Any = _UNSET
    files: Path | None = None

    def result(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "key": self.key,
            "params": self.params,
            "metrics": self.metrics,
            "tags": self.tags,
            "info": self.info,
        }

    @classmethod
    def from_result(cls, data: Mapping[str, Any], run_id: str) -> Record:
        return cls(
            step=data["step"],
            key=data["key"],
            run_id=run_id,
            cached=True,
            params=dict(data.get("params") or {}),
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
            tags=dict(data.get("tags") or {}),
            info=dict(data.get("info") or {}),
        )


Loader = Callable[["Context", Record], Any]


@dataclass
class Context:
    recipe: Recipe
    directory: Path  # the recipe's directory (hooks, input files)
    work: Path  # scratch: outputs of this run, downloads of cached ones
    client: MlflowClient
    run_id: str
    experiment_id: str
    # Run pods may not move aliases (docs/security.md): the submitting user does, afterwards.
    may_set_alias: bool
    loaders: Mapping[str, Loader]
    records: dict[str, Record] = field(default_factory=dict)

    def outputs(self, step: str) -> Path:
        """The folder a running step writes its output files to (logged as recipe/<step>/)."""
        path = self.work / "steps" / step
        path.mkdir(parents=True, exist_ok=True)
        return path

    def files(self, step: str) -> Path:
        """The output files of an upstream step, downloaded from its run when it was cached."""
        record = self.records[step]
        if record.files is None:
            target = self.work / "downloads" / step
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            got = mlflow.artifacts.download_artifacts(
                run_id=record.run_id, artifact_path=f"{OUTPUTS}/{step}", dst_path=str(target)
            )
            record.files = Path(got)
        return record.files

    def value(self, step: str) -> Any:
        """The value of an upstream step: as it computed it, or loaded from its outputs."""
        record = self.records[step]
        if record.value is _UNSET:
            record.value = self.loaders[step](self, record)
        return record.value


def fetch_file(run_id: str, artifact_path: str, into: Path) -> Path:
    """One artifact of a run, copied to ``into``."""
    with tempfile.TemporaryDirectory(prefix="mlkube-recipe-") as tmp:
        got = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=artifact_path, dst_path=tmp
            )
        )
        into.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(got, into)
    return into
