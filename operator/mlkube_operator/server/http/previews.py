"""Which artifact file the UI's previews ask for: a run's (``/get-artifact``), a logged model's
(``logged-models/{model_id}/artifacts/files``) or a registered model version's
(``/model-versions/get-artifact``, how the version page reads its MLmodel).

MLflow serves these outside its REST API (mlflow/server/__init__.py), for its web UI. Each names
an owner and a path relative to the owner's artifact root; the answer is an ``ArtifactPath``
that artifact_files.send streams, and whose owner the caller must be able to read.
"""

from __future__ import annotations

import re
import urllib.parse

from mlkube import layout
from mlkube.layout import ArtifactPath, LayoutError
from mlkube_operator.server.errors import ErrorCode, MlflowError, invalid
from mlkube_operator.server.http.artifacts import resolve
from mlkube_operator.server.http.call import Call, Services
from mlkube_operator.server.http.registry_call import RegistryCall

# How many rounds of %-decoding a path may need before it stops changing (MLflow's bound).
_DECODINGS = 10
_DRIVE = re.compile(r"[A-Za-z]:")


def relative_path(value: str, parameter: str) -> str:
    """``value`` as a path under an artifact root, normalized. Refused (400, naming
    ``parameter``) when it, or what any round of %-decoding makes of it, is absolute, climbs
    with ``..``, or holds ``#``, a backslash or NUL: MLflow's server checks the fully decoded
    form (validate_path_is_safe), so a path that only decodes into a traversal is refused too.
    The file looked up is ``value`` itself, decoded once, as the query string carried it."""
    form = value
    for _ in range(_DECODINGS):
        try:
            _check(form)
        except LayoutError as err:
            raise invalid(f"parameter '{parameter}': {err}") from None
        decoded = urllib.parse.unquote(form)
        if decoded == form:
            return layout.safe_relative(value)
        form = decoded
    raise invalid(f"parameter '{parameter}': {value[:200]!r} holds too many rounds of %-escapes")


def _check(path: str) -> None:
    """layout.safe_relative's rules, and MLflow's two more: no '#', no Windows drive."""
    if "#" in path:
        raise LayoutError(f"invalid artifact path {path[:200]!r}: '#' is not allowed")
    if _DRIVE.match(path):
        raise LayoutError(f"invalid artifact path {path[:200]!r}: it must be relative")
    layout.safe_relative(path)


def _file(
    workspace: str, services: Services, root_uri: str, relative: str, owner: str
) -> ArtifactPath:
    """The file ``relative`` under ``root_uri``, an artifact root this server proxies."""
    if not root_uri.startswith(layout.ARTIFACTS_ROOT):
        raise invalid(
            f"{owner} keeps its files at {root_uri[:300]!r}, which this server does not proxy; "
            "read them from there"
        )
    if not relative:
        raise invalid("name a file to preview, not a directory")
    root = root_uri[len(layout.ARTIFACTS_ROOT) :].strip("/")
    return resolve(workspace, services, f"{root}/{relative}", writing=False)


def run_file(call: Call) -> ArtifactPath:
    """``path`` of the run ``run_id`` (or ``run_uuid``, which the UI sends)."""
    relative = relative_path(call.fields.required_string("path"), "path")
    run = call.store.get_run(call.workspace, call.fields.run_id())
    return _file(
        call.workspace, call.services, run.info.artifact_uri, relative, f"run {run.info.run_id}"
    )


def logged_model_file(call: Call) -> ArtifactPath:
    """``artifact_file_path`` of the logged model in the URL."""
    value = call.fields.string("artifact_file_path")
    if not value:
        # MLflow's code and words for this one.
        raise MlflowError(
            ErrorCode.BAD_REQUEST,
            'Request must include the "artifact_file_path" query parameter.',
        )
    relative = relative_path(value, "artifact_file_path")
    model = call.store.get_logged_model(call.workspace, call.path["model_id"])
    return _file(
        call.workspace,
        call.services,
        model.artifact_uri,
        relative,
        f"logged model {model.model_id}",
    )


def version_file(call: RegistryCall) -> ArtifactPath:
    """``path`` of version ``version`` of model ``name``: in the registry's copy once the
    version is registered, in its source (a run's or logged model's files) until then."""
    relative = relative_path(call.fields.required_string("path"), "path")
    name, number = call.name(), call.version()
    uri = call.registry.get_model_version_download_uri(call.workspace, name, number)
    owner = f"version {number} of model {name!r}"
    if uri.startswith("runs:/"):
        run_id, _, sub = uri.removeprefix("runs:/").partition("/")
        run = call.tracking.get_run(call.workspace, run_id)
        uri = f"{run.info.artifact_uri.rstrip('/')}/{sub}"
    elif uri.startswith("models:/"):
        uri = call.tracking.get_logged_model(
            call.workspace, uri.removeprefix("models:/")
        ).artifact_uri
    return _file(call.workspace, call.services, uri, relative, owner)
