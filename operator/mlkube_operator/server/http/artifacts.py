"""The artifact proxy (mlflow-artifacts/*) and the run-based artifact listing.

Object keys come only from ``artifacts.keys``: the path names an experiment and a run (or logged
model) that must exist in the caller's workspace, and the rest of the path is normalized and
checked, so no request can reach another prefix.
"""

from __future__ import annotations

import posixpath
import re

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from mlkube import layout
from mlkube.layout import ArtifactPath, Owner
from mlkube.objects import ObjectStore, new_upload_id
from mlkube_operator.server.entities import FileInfo
from mlkube_operator.server.errors import invalid, not_found
from mlkube_operator.server.http import artifact_files, serialize
from mlkube_operator.server.http.bodies import body_pieces, check_declared
from mlkube_operator.server.http.call import Call, Services
from mlkube_operator.server.http.fields import Fields
from mlkube_operator.server.http.part_urls import Part
from mlkube_operator.server.http.query_string import query_of
from mlkube_operator.server.http.serialize import Json, JsonResponse
from mlkube_operator.server.http.streams import drain_into

MAX_PARTS = 10000


def _owned(call_workspace: str, services: Services, path: ArtifactPath) -> None:
    """The run or logged model of ``path`` exists in the workspace, in that experiment.

    Registry copies and project archives need no check: their key is derived from a validated
    model name and number, or a sha256, under the workspace's prefix, and one that is not there
    simply has no files.
    """
    store = services.store
    if path.owner in {Owner.REGISTRY, Owner.PROJECT}:
        return
    if path.owner is Owner.RUN:
        experiment_id = store.get_run(call_workspace, path.owner_id).info.experiment_id
    else:
        experiment_id = store.get_logged_model(call_workspace, path.owner_id).experiment_id
    if experiment_id != path.experiment_id:
        raise not_found(
            f"the {path.owner.value} {path.owner_id} is not in experiment {path.experiment_id}"
        )


def resolve(
    workspace: str,
    services: Services,
    raw: str,
    *,
    writing: bool = True,
    deleting: bool = False,
) -> ArtifactPath:
    path = layout.parse_artifact_path(raw)
    if path is None:
        raise invalid(
            f"invalid artifact path {raw[:200]!r}: expected <experimentId>/<runId>/artifacts/... "
            "or <experimentId>/models/<modelId>/artifacts/..."
        )
    if deleting and path.owner is Owner.PROJECT:
        # Content-addressed: Runs name archives by their sha256, and any of them may re-fetch
        # one (a retried pod); uploading the same archive again is the way to "change" it.
        raise invalid(f"{raw[:200]!r} is a project archive; archives are kept, not deleted")
    if writing and path.owner is Owner.REGISTRY:
        # The registry's copies are immutable and the operator's to write (issue 7).
        raise invalid(
            f"{raw[:200]!r} is a registered model version's immutable copy; register a new "
            "version instead of changing its files"
        )
    _owned(workspace, services, path)
    return path


def list_files(objects: ObjectStore, prefix: str, relative_to: str) -> list[FileInfo]:
    """One directory level under ``prefix``, paths relative to ``relative_to``."""
    listing = objects.list_dir(prefix)
    files = [
        FileInfo(posixpath.relpath(p.rstrip("/"), relative_to.rstrip("/")), True, None)
        for p in listing.prefixes
    ]
    files += [
        FileInfo(posixpath.relpath(o.key, relative_to.rstrip("/")), False, o.size)
        for o in listing.objects
        if not o.key.endswith("/")
    ]
    return sorted(files, key=lambda f: f.path)


def list_proxy(call: Call) -> Json:
    """GET mlflow-artifacts/artifacts?path=...: the entries of one directory, by base name."""
    raw = call.fields.string("path") or ""
    path = layout.parse_artifact_path(raw)
    if path is None:
        return {"files": []}
    _owned(call.workspace, call.services, path)
    prefix = path.prefix(call.workspace)
    files = list_files(call.services.objects, prefix, prefix)
    return {"files": [serialize.file_info(f) for f in files]}


def list_for_run(call: Call) -> Json:
    """GET mlflow/artifacts/list?run_id=&path=: paths relative to the run's artifact root."""
    run = call.store.get_run(call.workspace, call.fields.run_id())
    sub = layout.safe_relative(call.fields.string("path") or "")
    out: Json = {"root_uri": run.info.artifact_uri, "files": []}
    if not run.info.artifact_uri.startswith(layout.ARTIFACTS_ROOT):
        return out  # an explicit s3:// location: the client reads it directly
    root = layout.run_artifacts_prefix(call.workspace, run.info.experiment_id, run.info.run_id)
    prefix = root + sub + "/" if sub else root
    out["files"] = [serialize.file_info(f) for f in list_files(call.services.objects, prefix, root)]
    return out


def list_for_model(call: Call) -> Json:
    model = call.store.get_logged_model(call.workspace, call.path["model_id"])
    sub = layout.safe_relative(call.fields.string("artifact_directory_path") or "")
    root = layout.model_artifacts_prefix(call.workspace, model.experiment_id, model.model_id)
    prefix = root + sub + "/" if sub else root
    files = list_files(call.services.objects, prefix, root)
    return {"root_uri": model.artifact_uri, "files": [serialize.file_info(f) for f in files]}


async def download(workspace: str, services: Services, raw: str) -> Response:
    path = await anyio.to_thread.run_sync(lambda: resolve(workspace, services, raw, writing=False))
    if not path.rest:
        raise invalid("name a file to download, not the artifacts root")
    return await artifact_files.send(services, path.key(workspace), raw)


async def _store(services: Services, key: str, request: Request) -> None:
    """The body streamed into object storage at ``key``, within the upload limit."""
    limit = services.bounds.upload()
    length = check_declared(request, limit)
    pieces = body_pieces(request, limit)
    await drain_into(pieces, lambda chunks: services.objects.put_stream(key, chunks, length))


async def upload(workspace: str, services: Services, raw: str, request: Request) -> Response:
    path = await anyio.to_thread.run_sync(resolve, workspace, services, raw)
    if not path.rest:
        raise invalid("name a file to upload to, not the artifacts root")
    await _store(services, path.key(workspace), request)
    return JsonResponse({})


async def delete(workspace: str, services: Services, raw: str) -> Response:
    path = await anyio.to_thread.run_sync(lambda: resolve(workspace, services, raw, deleting=True))
    objects = services.objects

    def remove() -> None:
        key = path.key(workspace)
        targets = [o.key for o in objects.list_all(path.prefix(workspace))]
        if path.rest:
            targets.append(key)
        objects.delete(targets)

    await anyio.to_thread.run_sync(remove)
    return JsonResponse({})


# -- multipart uploads: parts go through this server (the client may not reach the object
# store), land as temporary objects, and are composed into the artifact on completion.

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def _target(raw: str, fields: Fields) -> str:
    """The artifact a multipart call is about: the URL names the directory, the body's ``path``
    is the client's local file, whose base name is the artifact's (as MLflow's S3 store does)."""
    local = fields.required_string("path")
    name = re.split(r"[\\/]", local)[-1]
    if name in ("", ".", ".."):
        raise invalid(f"invalid path {local[:200]!r}: it must end with a file name")
    return f"{raw.rstrip('/')}/{name}"


def mpu_create(call: Call, raw: str, base_url: str) -> Json:
    resolve(call.workspace, call.services, _target(raw, call.fields))
    num_parts = call.fields.integer("num_parts") or 1
    if not 1 <= num_parts <= MAX_PARTS:
        raise invalid(f"num_parts must be between 1 and {MAX_PARTS}, got {num_parts}")
    upload_id = new_upload_id()
    headers = (
        [{"key": "X-MLFLOW-WORKSPACE", "value": call.workspace}]
        if call.workspace != call.services.default_workspace
        else []
    )
    base = f"{base_url.rstrip('/')}/api/2.0/mlflow-artifacts/mpu/part/{raw.lstrip('/')}"
    signer = call.services.part_signer
    credentials = [
        {
            "url": f"{base}?{signer.query(Part(call.workspace, raw, upload_id, n))}",
            "part_number": n,
            "headers": headers,
        }
        for n in range(1, num_parts + 1)
    ]
    return {"upload_id": upload_id, "credentials": credentials}


def _upload_id(fields: Fields) -> str:
    upload_id = fields.required_string("upload_id")
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise invalid(f"invalid upload_id {upload_id[:80]!r}")
    return upload_id


def part_of(fields: Fields) -> tuple[str, int]:
    """The upload id and part number a part's URL names (its query's fields)."""
    upload_id = _upload_id(fields)
    part_number = fields.integer("part_number", required=True)
    assert part_number is not None
    if not 1 <= part_number <= MAX_PARTS:
        raise invalid(f"part_number must be between 1 and {MAX_PARTS}")
    return upload_id, part_number


def signed_part(workspace: str, services: Services, raw: str, request: Request) -> bool:
    """Whether the request carries a valid signature of its part URL (``mpu_create``)."""
    fields = Fields.from_query(query_of(request))
    signature, expires = fields.string("signature"), fields.integer("expires")
    if signature is None or expires is None:
        return False
    upload_id, part_number = part_of(fields)
    part = Part(workspace, raw, upload_id, part_number)
    return services.part_signer.admits(part, expires, signature)


async def mpu_part(workspace: str, services: Services, raw: str, request: Request) -> Response:
    resolve_path = await anyio.to_thread.run_sync(resolve, workspace, services, raw)
    del resolve_path  # only checked: parts are stored by upload id
    upload_id, part_number = part_of(Fields.from_query(query_of(request)))
    await _store(
        services, f"{layout.upload_prefix(workspace, upload_id)}{part_number:05d}", request
    )
    etag = f"{upload_id}-{part_number}"
    return Response(status_code=200, headers={"ETag": etag})


def mpu_complete(call: Call, raw: str) -> Json:
    path = resolve(call.workspace, call.services, _target(raw, call.fields))
    upload_id = _upload_id(call.fields)
    numbers = sorted(
        {p.integer("part_number", required=True) or 0 for p in call.fields.messages("parts")}
    )
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        raise invalid("parts must be numbered 1, 2, ... without gaps")
    prefix = layout.upload_prefix(call.workspace, upload_id)
    present = {o.key for o in call.services.objects.list_all(prefix)}
    sources = [f"{prefix}{n:05d}" for n in numbers]
    absent = [s for s in sources if s not in present]
    if absent:
        raise invalid(f"{len(absent)} parts of upload {upload_id} were never uploaded")
    call.services.objects.compose(path.key(call.workspace), sources)
    call.services.objects.delete(sorted(present))
    return {}


def mpu_abort(call: Call, raw: str) -> Json:
    resolve(call.workspace, call.services, _target(raw, call.fields))
    prefix = layout.upload_prefix(call.workspace, _upload_id(call.fields))
    call.services.objects.delete([o.key for o in call.services.objects.list_all(prefix)])
    return {}
