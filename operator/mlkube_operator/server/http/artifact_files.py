"""Sending one artifact file: streamed from object storage, typed as MLflow types it, and never
run by a browser on this server's origin.

MLflow's server answers every artifact download alike (mlflow/server/handlers.py): text formats
as ``text/plain``, anything else by its extension, as an attachment, with
``X-Content-Type-Options: nosniff``. mlkube adds ``Content-Security-Policy: default-src 'none';
sandbox``: an HTML or SVG artifact opened directly, or by a browser that shows attachments, runs
no script and reaches nothing of this origin, where the UI and its API live. The UI's previews
fetch the bytes and read them as text or as a blob, which none of these headers change.
"""

from __future__ import annotations

import mimetypes
import posixpath
import urllib.parse
from collections.abc import Iterator

import anyio.to_thread
from starlette.responses import Response, StreamingResponse

from mlkube.objects import ObjectNotFound
from mlkube_operator.server.errors import not_found
from mlkube_operator.server.http.call import Services

# What MLflow shows as text (mlflow/utils/mime_type_utils.py): these extensions, and files
# without one whose whole name is listed (MLmodel, MLproject).
TEXT_NAMES = frozenset(
    {
        *("txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon"),
        *("toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst"),
        *("ipynb", "MLmodel", "MLproject"),
    }
)
SANDBOX = "default-src 'none'; sandbox"


def media_type(name: str) -> str:
    base = posixpath.basename(name)
    extension = posixpath.splitext(base)[1].replace(".", "") or base
    if extension in TEXT_NAMES:
        return "text/plain"
    return mimetypes.guess_type(base)[0] or "application/octet-stream"


def attachment(name: str) -> str:
    """A Content-Disposition naming the file: a plain ASCII ``filename`` always (a header is
    Latin-1, and a quote or control character would end it), the exact UTF-8 name beside it
    as RFC 5987's ``filename*`` when they differ."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name) or "download"
    header = f'attachment; filename="{plain}"'
    if plain != name:
        header += f"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
    return header


async def send(services: Services, key: str, shown: str) -> Response:
    """The object at ``key``; ``shown`` is the artifact path as the client named it."""
    try:
        size, chunks = await anyio.to_thread.run_sync(services.objects.open, key)
    except ObjectNotFound:
        raise not_found(f"no artifact file at {shown[:300]!r}") from None
    return StreamingResponse(
        _closing(chunks),
        media_type=media_type(shown),
        headers={
            "Content-Length": str(size),
            "Content-Disposition": attachment(posixpath.basename(shown)),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": SANDBOX,
            "Cache-Control": "no-cache",
        },
    )


def _closing(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
