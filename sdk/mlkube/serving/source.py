"""Where ``mlkube serve MODEL`` finds its model, made into a local directory.

- a local directory (or ``file://`` URI) holding an MLmodel: used as it is;
- ``s3://bucket/prefix``: every object under the prefix is downloaded, with the endpoint and
  credentials of ``MLKUBE_S3_*`` (see mlkube.storage);
- ``mlflow-artifacts:/<path>``: downloaded through the artifact proxy of the tracking server at
  ``MLFLOW_TRACKING_URI`` (what a ModelDeployment's pods get: ``mlflow-artifacts:/models/<model>/
  <version>``, the registry copy; they hold no object-store credential);
- ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/<stage>``: resolved
  through the tracking server (REST: registered-models/alias,
  registered-models/get-latest-versions, model-versions/get-download-uri), then downloaded from
  the location it gives, as above, or a local path.

Every request to the tracking server carries ``mlkube.proxy.headers``: the bearer token
(``MLFLOW_TRACKING_TOKEN``, else the pod's token file ``MLKUBE_TOKEN_FILE``, read anew per
request), else ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (basic), and
``MLFLOW_WORKSPACE`` as ``X-MLFLOW-WORKSPACE``.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from mlkube import proxy
from mlkube.models.mlmodel import MLMODEL
from mlkube.objects import ObjectStore
from mlkube.storage import S3Location, S3Settings, StorageError

TIMEOUT = 30.0
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<ref>[^/]+)|@(?P<alias>[^/]+))/?$")


class SourceError(RuntimeError):
    """The model cannot be found or fetched; the message says where and why."""


# (method, url, json body or None, headers) -> response body
Transport = Callable[[str, str, dict[str, Any] | None, dict[str, str]], bytes]


def _urllib_transport(
    method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str]
) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        raise SourceError(f"{method} {url}: HTTP {err.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        raise SourceError(f"{method} {url}: {err}") from None


class Registry:
    """The MLflow REST calls that turn a ``models:/`` URI into an artifact location."""

    def __init__(self, env: Mapping[str, str], transport: Transport = _urllib_transport) -> None:
        try:
            self.base = proxy.tracking_base(env)
        except proxy.ProxyError as err:
            raise SourceError(f"models:/ and mlflow-artifacts:/ URIs need it: {err}") from None
        self.env = env
        self.transport = transport

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        url = f"{self.base}/{path.lstrip('/')}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return self.transport(method, url, body, proxy.headers(self.env))

    def call_json(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        raw = self.call(method, path, query, body)
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError:
            raise SourceError(f"{path}: the tracking server answered with non-JSON") from None
        if not isinstance(decoded, dict):
            raise SourceError(f"{path}: expected a JSON object from the tracking server")
        return decoded

    def version_of(self, uri: str) -> tuple[str, str]:
        """(name, version) that a ``models:/`` URI names."""
        match = _MODELS_URI.match(uri)
        if not match:
            raise SourceError(
                f"{uri!r}: expected models:/<name>/<version>, models:/<name>@<alias> or "
                "models:/<name>/<stage>"
            )
        name = urllib.parse.unquote(match["name"])
        if match["alias"]:
            answer = self.call_json(
                "GET",
                "api/2.0/mlflow/registered-models/alias",
                {"name": name, "alias": match["alias"]},
            )
            return name, str(answer["model_version"]["version"])
        ref = match["ref"]
        if ref.isdigit():
            return name, ref
        answer = self.call_json(
            "POST",
            "api/2.0/mlflow/registered-models/get-latest-versions",
            body={"name": name, "stages": [ref]},
        )
        versions = answer.get("model_versions") or []
        if not versions:
            raise SourceError(f"{uri!r}: registered model {name!r} has no version in stage {ref!r}")
        return name, str(max(int(v["version"]) for v in versions))

    def download_uri(self, name: str, version: str) -> str:
        answer = self.call_json(
            "GET",
            "api/2.0/mlflow/model-versions/get-download-uri",
            {"name": name, "version": version},
        )
        return str(answer["artifact_uri"])

    def download_artifacts(self, path: str, target: Path) -> None:
        """Copy the proxied artifact directory ``path`` (relative to the artifact root)."""
        listing = self.call_json("GET", "api/2.0/mlflow-artifacts/artifacts", {"path": path})
        for entry in listing.get("files", []):
            name = PurePosixPath(entry["path"]).name
            child = f"{path}/{name}" if path else name
            _check_relative(name)
            if entry.get("is_dir"):
                self.download_artifacts(child, target / name)
            else:
                target.mkdir(parents=True, exist_ok=True)
                quoted = urllib.parse.quote(child)
                (target / name).write_bytes(
                    self.call("GET", f"api/2.0/mlflow-artifacts/artifacts/{quoted}")
                )


def _check_relative(name: str) -> None:
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        raise SourceError(f"refusing the artifact name {name!r} (not a plain file name)")


def download_s3(store: ObjectStore, location: S3Location, target: Path) -> None:
    """Every object under ``location`` (a prefix) into ``target``, keeping relative paths."""
    prefix = location.key.rstrip("/") + "/"
    bucket = store.in_bucket(location.bucket)
    count = 0
    for item in bucket.list_all(prefix):
        relative = PurePosixPath(item.key[len(prefix) :])
        if not relative.parts or any(part in ("", ".", "..") for part in relative.parts):
            continue
        bucket.download(item.key, target.joinpath(*relative.parts))
        count += 1
    if not count:
        raise SourceError(f"{location}: no objects under this prefix")


def fetch_model(
    model: str,
    target: Path,
    env: Mapping[str, str],
    *,
    store: ObjectStore | None = None,
    transport: Transport = _urllib_transport,
) -> Path:
    """The local directory of ``model``, downloading into ``target`` when it is remote."""
    if model.startswith("models:/"):
        registry = Registry(env, transport)
        name, version = registry.version_of(model)
        location = registry.download_uri(name, version)
        return _fetch_location(location, target, env, store, registry)
    if model.startswith("mlflow-artifacts:"):
        return _fetch_location(model, target, env, store, Registry(env, transport))
    if model.startswith("s3://"):
        return _fetch_location(model, target, env, store, None)
    return _local(model)


def _fetch_location(
    location: str,
    target: Path,
    env: Mapping[str, str],
    store: ObjectStore | None,
    registry: Registry | None,
) -> Path:
    if location.startswith("s3://"):
        try:
            where = S3Location.parse(location)
            client = store if store is not None else S3Settings.from_env(env).objects()
        except StorageError as err:
            raise SourceError(str(err)) from None
        download_s3(client, where, target)
    elif location.startswith("mlflow-artifacts:") and registry is not None:
        path = urllib.parse.urlsplit(location).path.strip("/")
        registry.download_artifacts(path, target)
    else:
        return _local(location)
    return _local(str(target))


def _local(model: str) -> Path:
    path = Path(urllib.parse.urlsplit(model).path if model.startswith("file:") else model)
    if not (path / MLMODEL).is_file():
        raise SourceError(
            f"{model!r}: not a model directory (no {MLMODEL} file); give a local directory, "
            "s3://bucket/prefix or models:/<name>/<version>|@<alias>"
        )
    return path
