"""What a distributed Run (spec.workers > 1) adds to its Job: pure functions, no I/O.

The ranks are the pods of one Indexed Job (completion index = rank). Each finds rank 0 by name:
the Job controller gives an indexed pod the host name ``<job>-<index>``, and with
``spec.subdomain: <job>`` and a headless Service ``<job>`` (which publishes not-ready pods, so a
rank that starts before rank 0 is ready can still resolve it once it has an address), cluster DNS
answers ``<job>-0.<job>`` (short for ``<job>-0.<job>.<namespace>.svc.<domain>``, completed by the
pod's DNS search list). The variables are the torch.distributed ``env://`` convention, which
XGBoost's and gloo-based code read the same way (docs/distributed.md).

No rank is retried (``backoffLimitPerIndex: 0``, ``maxFailedIndexes: 0``): a collective cannot
finish without every rank, and a restarted rank cannot rejoin the others' half-done step; one
failing rank fails the Job, whose controller then stops the rest.
"""

from __future__ import annotations

import re
from typing import Any

from mlkube import layout
from mlkube.api.run import Run, RunSpec
from mlkube_operator.resources.render import render

# Where the Job controller writes an indexed pod's completion index (label and annotation).
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
# torch.distributed's default rendezvous port (what torchrun uses when none is given).
MASTER_PORT = 29500
# The variables every rank gets; a distributed Run may not set them in spec.env.
RANK_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
# A Service's name is a DNS-1035 label, and the pods' host names <job>-<rank> DNS-1123 labels.
_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_LABEL = 63


def distributed(spec: RunSpec) -> bool:
    return spec.workers > 1


def problems(run: Run) -> list[str]:
    """Why ``run`` cannot run on ``spec.workers`` pods, as ``path: message`` lines (none for a
    Run of one worker)."""
    spec = run.spec
    if not distributed(spec):
        return []
    found = [
        f"spec.env[{i}].name: {var.name} is set by mlkube for each rank of a run with "
        "workers > 1; remove it"
        for i, var in enumerate(spec.env)
        if var.name in RANK_ENV
    ]
    if spec.backoff_limit:
        found.append(
            "spec.backoffLimit: a run with workers > 1 is not retried (a restarted rank cannot "
            "rejoin the others); set it to 0"
        )
    name, longest = run.metadata.name, MAX_LABEL - len(f"-{spec.workers - 1}")
    if not _LABEL.match(name) or len(name) > longest:
        found.append(
            f"metadata.name: a run with workers > 1 names its pods' hosts {name}-<rank> and its "
            f"Service {name}, so its name must be a DNS label of at most {longest} characters: "
            "lowercase letters, digits and '-', starting with a letter; create it under such a "
            "name"
        )
    return found


def job_fields(spec: RunSpec) -> dict[str, Any]:
    """The Job spec fields of an Indexed Job with one pod per rank, none retried."""
    return {
        "completionMode": "Indexed",
        "completions": spec.workers,
        "parallelism": spec.workers,
        "backoffLimitPerIndex": 0,
        "maxFailedIndexes": 0,
    }


def rank_env(job: str, spec: RunSpec) -> list[dict[str, Any]]:
    """RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT of the main container."""
    index = {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}
    return [
        {"name": "RANK", "valueFrom": index},
        {"name": "LOCAL_RANK", "value": "0"},  # one process per pod
        {"name": "WORLD_SIZE", "value": str(spec.workers)},
        {"name": "MASTER_ADDR", "value": f"{job}-0.{job}"},
        {"name": "MASTER_PORT", "value": str(MASTER_PORT)},
    ]


def build_service(job: str, run: Run) -> dict[str, Any]:
    """The headless Service that gives the ranks their DNS names, owned by the Run."""
    selector = {layout.RUN_LABEL: run.metadata.name}
    return render(
        "run-service.yaml.j2",
        name=job,
        namespace=run.metadata.namespace,
        labels={**layout.MANAGED_BY, **selector},
        run_name=run.metadata.name,
        run_uid=run.metadata.uid,
        selector=selector,
        port=MASTER_PORT,
    )
