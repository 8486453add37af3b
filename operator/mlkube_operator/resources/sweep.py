"""The Runs a Sweep owns: its parent run (the MLflow run its trials nest under) and its trials.

Pure functions of the Sweep and what the controller decided (docs/sweeps.md). Both kinds of Run
are owned by the Sweep (deleting it deletes them) and named after it, so a repeated create after
an operator restart answers AlreadyExists instead of making a second one.
"""

from __future__ import annotations

import copy
from typing import Any

from mlkube import layout
from mlkube.api.kinds import RUN, SWEEP
from mlkube.api.sweep import PARENT_RUN_TAG
from mlkube.api.trial import trial_name

Obj = dict[str, Any]


def owner_reference(sweep: Obj) -> Obj:
    meta = sweep["metadata"]
    return {
        "apiVersion": f"{SWEEP.group}/{SWEEP.version}",
        "kind": SWEEP.kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


# What `mlkube sweep` recorded on the Sweep and a Run's tags are made from (projects/tags.py):
# the commit the uploaded project came from and who submitted it.
INHERITED_ANNOTATIONS = (layout.GIT_COMMIT_ANNOTATION, layout.CREATED_BY_ANNOTATION)


def _inherited(sweep: Obj) -> Obj:
    """The ``annotations`` entry of a trial's or parent's metadata: the Sweep's that its Runs'
    tags are made from (none: no entry)."""
    annotations = sweep["metadata"].get("annotations") or {}
    kept = {k: str(annotations[k]) for k in INHERITED_ANNOTATIONS if k in annotations}
    return {"annotations": kept} if kept else {}


def build_parent(sweep: Obj) -> Obj:
    """The parent run: a Run named like the Sweep that runs no code (no spec.project), in the
    template's experiment; the sweep controller writes its lifecycle fields."""
    meta = sweep["metadata"]
    template = sweep["spec"]["template"]
    return {
        "apiVersion": f"{RUN.group}/{RUN.version}",
        "kind": RUN.kind,
        "metadata": {
            "name": meta["name"],
            "labels": {**layout.MANAGED_BY, layout.SWEEP_PARENT_LABEL: meta["name"]},
            "ownerReferences": [owner_reference(sweep)],
            **_inherited(sweep),
        },
        "spec": {"experiment": template.get("experiment", "default"), "runName": meta["name"]},
    }


def build_trial(sweep: Obj, index: int, parameters: dict[str, str], parent_run_id: str) -> Obj:
    """Trial ``index``: the template's Run spec with the searched ``parameters`` over the fixed
    ones, nested under the parent run by the ``mlflow.parentRunId`` tag."""
    meta = sweep["metadata"]
    spec = copy.deepcopy(sweep["spec"]["template"])
    spec["parameters"] = {**(spec.get("parameters") or {}), **parameters}
    spec["tags"] = {**(spec.get("tags") or {}), PARENT_RUN_TAG: parent_run_id}
    name = trial_name(meta["name"], index)
    spec.setdefault("runName", name)
    return {
        "apiVersion": f"{RUN.group}/{RUN.version}",
        "kind": RUN.kind,
        "metadata": {
            "name": name,
            "labels": {
                **layout.MANAGED_BY,
                layout.SWEEP_LABEL: meta["name"],
                layout.TRIAL_LABEL: str(index),
            },
            "ownerReferences": [owner_reference(sweep)],
            **_inherited(sweep),
        },
        "spec": spec,
    }
