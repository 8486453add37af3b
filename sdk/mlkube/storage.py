"""Object storage as the SDK sees it: where it is (from the environment), s3:// URIs, and the
prefix-wide operations (copy, delete, list) over an ``mlkube.objects.ObjectStore``.

The operator and the tracking server read ``MLKUBE_S3_ENDPOINT`` (a URL),
``MLKUBE_S3_ACCESS_KEY``, ``MLKUBE_S3_SECRET_KEY`` and ``MLKUBE_S3_BUCKET``; ``make up`` writes the
same variables into ``.local/env``. Pods in users' namespaces get none of them (issue 13): they go
through the tracking server's artifact proxy (mlkube.proxy), unless a Run's own spec.env sets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mlkube.objects import ObjectStore

DEFAULT_BUCKET = "mlkube"


class StorageError(RuntimeError):
    pass


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parts = urlsplit(uri)
        key = parts.path.lstrip("/")
        if parts.scheme != "s3" or not parts.netloc or not key:
            raise StorageError(f"expected an s3://bucket/key URI, got {uri!r}")
        if any(piece in {"", ".", ".."} for piece in key.rstrip("/").split("/")):
            raise StorageError(f"{uri!r}: a key must not contain empty, '.' or '..' segments")
        return cls(parts.netloc, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str = DEFAULT_BUCKET

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Settings:
        missing = [
            name
            for name in ("MLKUBE_S3_ENDPOINT", "MLKUBE_S3_ACCESS_KEY", "MLKUBE_S3_SECRET_KEY")
            if not env.get(name)
        ]
        if missing:
            raise StorageError(
                f"object storage is not configured: set {', '.join(missing)} "
                "(`source .local/env` after `make up` does)"
            )
        return cls(
            endpoint=env["MLKUBE_S3_ENDPOINT"],
            access_key=env["MLKUBE_S3_ACCESS_KEY"],
            secret_key=env["MLKUBE_S3_SECRET_KEY"],
            bucket=env.get("MLKUBE_S3_BUCKET") or DEFAULT_BUCKET,
        )

    def objects(self, bucket: str | None = None) -> ObjectStore:
        """The store of ``bucket`` (default: this setting's bucket) at this endpoint."""
        from mlkube.objects.s3 import S3Objects

        try:
            return S3Objects(self.endpoint, self.access_key, self.secret_key, bucket or self.bucket)
        except ValueError as err:
            raise StorageError(str(err)) from None


def download(store: ObjectStore, location: S3Location, target: Path) -> Path:
    """Stream one object to ``target`` (never wholly in memory)."""
    return store.in_bucket(location.bucket).download(location.key, target)


def exists(store: ObjectStore, location: S3Location) -> bool:
    return store.in_bucket(location.bucket).exists(location.key)


def list_keys(store: ObjectStore, location: S3Location) -> list[str]:
    """Every object key under the prefix ``location.key`` (a directory-like prefix)."""
    prefix = location.key.rstrip("/") + "/"
    return [info.key for info in store.in_bucket(location.bucket).list_all(prefix)]


def copy_prefix(store: ObjectStore, source: S3Location, target: S3Location) -> int:
    """Copy every object under ``source`` to the same relative key under ``target``, server-side
    (no bytes pass through this process); returns how many objects were copied."""
    prefix = source.key.rstrip("/") + "/"
    destination = target.key.rstrip("/") + "/"
    keys = list_keys(store, source)
    into = store.in_bucket(target.bucket)
    for key in keys:
        into.copy(key, destination + key[len(prefix) :], source_bucket=source.bucket)
    return len(keys)


def delete_prefix(store: ObjectStore, location: S3Location) -> int:
    """Delete every object under the prefix; returns how many there were."""
    keys = list_keys(store, location)
    store.in_bucket(location.bucket).delete(keys)
    return len(keys)


def read_text(store: ObjectStore, location: S3Location, limit: int = 1 << 20) -> str:
    """A small object's content (at most ``limit`` bytes are read); ObjectNotFound if missing."""
    _, chunks = store.in_bucket(location.bucket).open(location.key)
    data = b""
    try:
        for chunk in chunks:
            data += chunk
            if len(data) >= limit:
                break
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return data[:limit].decode("utf-8", errors="replace")
