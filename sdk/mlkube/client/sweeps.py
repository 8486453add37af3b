"""Sweeps from the SDK: one submitted with its project uploaded, its trials, its end, its best.

A Sweep's manifest comes as YAML (text, or a file as a ``Path``), a dict, or a model. Its
``spec.template.project`` is the uploaded archive when a project directory is given, uploaded as
``Client.submit_project`` uploads one (``submit.project_of``). The trials are the Runs labelled
``mlkube.io/sweep=<name>``, read as the operator reads them (``mlkube.api.trial``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlkube import layout
from mlkube.api import API_VERSION, SpecError, Sweep, SweepSpec, parse
from mlkube.api.kinds import SWEEP
from mlkube.api.sweep import BestTrial, SweepPhase
from mlkube.api.trial import TrialRun, trial_of
from mlkube.client.collection import parse_object
from mlkube.client.errors import Invalid
from mlkube.client.submit import Source, UploadProgress, project_of, slug

if TYPE_CHECKING:
    from mlkube.client.client import Client

# What a sweep can be given as.
SweepInput = Sweep | SweepSpec | Mapping[str, Any] | str | Path
ENDED = frozenset({SweepPhase.SUCCEEDED.value, SweepPhase.FAILED.value})
# Where waiting for a sweep stops: it ended, or it waits for someone to resume it.
SETTLED = ENDED | {SweepPhase.SUSPENDED.value}
# Stands in for the project while the rest of a spec is checked, before anything is uploaded.
_CHECKING_ONLY = {"path": "/"}


def manifest_of(sweep: SweepInput) -> dict[str, Any]:
    """The Sweep's manifest as a dict (metadata and spec); a bare spec gets empty metadata.
    A ``str`` is YAML text; a file is read when given as a ``Path``. Of several YAML documents,
    the one of kind Sweep."""
    if isinstance(sweep, Sweep):
        return sweep.to_wire()
    if isinstance(sweep, SweepSpec):
        return {"metadata": {}, "spec": sweep.to_wire()}
    where = "the sweep given"
    if isinstance(sweep, Path):
        where = str(sweep)
        try:
            sweep = sweep.read_text()
        except OSError as err:
            raise Invalid(f"{where}: cannot read it: {err.strerror or err}") from None
    if isinstance(sweep, str):
        sweep = _the_sweep(where, sweep)
    if not isinstance(sweep, Mapping):
        raise Invalid(
            f"{where} is not a Sweep manifest (a mapping with metadata and spec); "
            "a str is read as YAML text, so pass a file as a pathlib.Path"
        )
    data = dict(sweep)
    kind = data.get("kind")
    if kind is not None and kind != "Sweep":
        raise Invalid(f"{where} is a {kind}, not a Sweep; give a manifest of kind: Sweep")
    if "spec" not in data and "metadata" not in data:
        return {"metadata": {}, "spec": data}  # a bare spec
    return {"metadata": dict(data.get("metadata") or {}), "spec": data.get("spec") or {}}


def _the_sweep(where: str, text: str) -> Any:
    """The one document of ``text``, or its one Sweep when it holds several (as
    examples/sweep/sweep.yaml holds an Experiment too, which the first trial makes if missing)."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as err:
        raise Invalid(f"{where} is not YAML: {err}") from None
    if len(documents) == 1:
        return documents[0]
    found = [d for d in documents if isinstance(d, Mapping) and d.get("kind") == "Sweep"]
    if len(found) != 1:
        raise Invalid(
            f"{where} holds {len(documents)} documents, {len(found)} of them Sweeps; "
            "give a file with one Sweep"
        )
    return found[0]


def _checked(label: str, spec: Mapping[str, Any]) -> SweepSpec:
    try:
        return parse(SweepSpec, dict(spec), "spec")
    except SpecError as err:
        raise Invalid(f"{label}: {'; '.join(err.problems)}") from None


def submit(
    client: Client,
    sweep: SweepInput,
    project_dir: str | Path | None = None,
    *,
    name: str | None = None,
    source: Source | None = None,
    progress: UploadProgress | None = None,
) -> Sweep:
    """Create the Sweep ``sweep`` describes, named ``name`` (else its manifest's name, else one
    generated from the project's); with ``project_dir`` (or a remote ``source``) as every
    trial's project, uploaded first. The spec is checked before anything is uploaded."""
    manifest = manifest_of(sweep)
    metadata = dict(manifest["metadata"])
    spec = dict(manifest["spec"])
    template = dict(spec.get("template") or {})
    name = name or metadata.get("name")
    label = f"Sweep {name!r}" if name else "Sweep"
    namespace = metadata.get("namespace")
    if namespace and namespace != client.namespace:
        raise Invalid(
            f"{label}: the manifest says namespace {namespace}, but this client's is "
            f"{client.namespace}; remove metadata.namespace or choose {namespace} (-n)"
        )
    where = source or (Source(directory=Path(project_dir)) if project_dir is not None else None)
    if where is None and not template.get("project"):
        raise Invalid(
            f"{label}: spec.template.project is not set; give the project's directory "
            "(`mlkube sweep -f FILE DIRECTORY`) or set spec.template.project"
        )
    if where is not None:
        _checked(label, {**spec, "template": {**template, "project": _CHECKING_ONLY}})
        template["project"], base = project_of(where, client.env, client.namespace, progress)
        spec["template"] = template
    else:
        base = "sweep"
    checked = _checked(label, spec)
    annotations = {
        **dict(metadata.get("annotations") or {}),
        **(where.annotations if where else {}),
    }
    # Who the API server says these credentials are, as submit_project records it for a Run: it
    # labels the sweep, it authorizes nothing (docs/security.md).
    user = client.whoami()
    if user:
        annotations[layout.CREATED_BY_ANNOTATION] = user
    made: dict[str, Any] = {"labels": metadata["labels"]} if metadata.get("labels") else {}
    if name:
        made["name"] = name
    else:
        made["generateName"] = metadata.get("generateName") or slug(base) + "-"
    if annotations:
        made["annotations"] = annotations
    body = {
        "apiVersion": API_VERSION,
        "kind": "Sweep",
        "metadata": made,
        "spec": checked.to_wire(),
    }
    # Sent as built (checked above): a generateName has no name for the model to check yet.
    return parse_object(SWEEP, client.kube.create(SWEEP, client.namespace, body), Sweep)


def sweep_of(client: Client, sweep: Sweep | str) -> Sweep:
    return client.sweeps.get(sweep) if isinstance(sweep, str) else sweep


def trials(client: Client, sweep: Sweep | str) -> list[TrialRun]:
    """The sweep's trials in index order, read from its child Runs."""
    found = sweep_of(client, sweep)
    runs = client.runs.list(f"{layout.SWEEP_LABEL}={found.metadata.name}")
    read = (trial_of(run.to_wire(), found.spec) for run in runs)
    return sorted((t for t in read if t is not None), key=lambda t: t.trial.index)


def wait(
    client: Client,
    sweep: Sweep | str,
    timeout: float,
    progress: Callable[[Sweep], None] | None = None,
) -> Sweep:
    name = sweep if isinstance(sweep, str) else str(sweep.metadata.name)
    return client.sweeps.wait(name, phases=SETTLED, timeout=timeout, progress=progress)


def best(client: Client, sweep: Sweep | str) -> BestTrial | None:
    """The best finished trial as the operator recorded it (``status.best``), or None yet."""
    return sweep_of(client, sweep).status.best


def suspend(client: Client, sweep: Sweep | str, suspended: bool = True) -> Sweep:
    """Set the sweep's ``spec.suspend``: the operator creates no trial and stops the running
    ones (they end Killed), and the sweep shows Suspended; ``suspended=False`` goes on with new
    trials up to maxRuns. A sweep that has ended is left as it is."""
    found = sweep_of(client, sweep)
    if found.status.phase in ENDED or found.spec.suspend == suspended:
        return found
    return client.sweeps.patch(str(found.metadata.name), {"spec": {"suspend": suspended}})
