"""Object storage as the SDK sees it: where it is (from the environment) and s3:// URIs.

Run pods and model pods get ``MLKUBE_S3_ENDPOINT`` (a URL), ``MLKUBE_S3_ACCESS_KEY``,
``MLKUBE_S3_SECRET_KEY`` and ``MLKUBE_S3_BUCKET`` from the operator; ``make up`` writes the same
variables into ``.local/env``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from minio import Minio

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

    def client(self) -> Minio:
        url = urlsplit(self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}")
        if not url.netloc:
            raise StorageError(f"MLKUBE_S3_ENDPOINT {self.endpoint!r} is not a URL")
        return Minio(
            url.netloc,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=url.scheme == "https",
        )


def download(client: Minio, location: S3Location, target: Path) -> Path:
    """Stream one object to ``target`` (never wholly in memory)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    client.fget_object(location.bucket, location.key, str(target))
    return target


def exists(client: Minio, location: S3Location) -> bool:
    from minio.error import S3Error

    try:
        client.stat_object(location.bucket, location.key)
    except S3Error as err:
        if err.code in {"NoSuchKey", "NoSuchObject", "NotFound"}:
            return False
        raise
    return True


def list_keys(client: Minio, location: S3Location) -> list[str]:
    """Every object key under the prefix ``location.key`` (a directory-like prefix)."""
    prefix = location.key.rstrip("/") + "/"
    return [
        str(obj.object_name)
        for obj in client.list_objects(location.bucket, prefix=prefix, recursive=True)
        if obj.object_name is not None
    ]


def copy_prefix(client: Minio, source: S3Location, target: S3Location) -> int:
    """Copy every object under ``source`` to the same relative key under ``target``, server-side
    (no bytes pass through this process); returns how many objects were copied."""
    from minio.commonconfig import CopySource

    prefix = source.key.rstrip("/") + "/"
    destination = target.key.rstrip("/") + "/"
    keys = list_keys(client, source)
    for key in keys:
        client.copy_object(
            target.bucket, destination + key[len(prefix) :], CopySource(source.bucket, key)
        )
    return len(keys)


def delete_prefix(client: Minio, location: S3Location) -> int:
    """Delete every object under the prefix; returns how many there were."""
    from minio.deleteobjects import DeleteObject

    keys = list_keys(client, location)
    errors = list(client.remove_objects(location.bucket, (DeleteObject(k) for k in keys)))
    if errors:
        raise StorageError(f"could not delete {len(errors)} objects under {location}: {errors[0]}")
    return len(keys)


def read_text(client: Minio, location: S3Location, limit: int = 1 << 20) -> str:
    """A small object's content (at most ``limit`` bytes are read)."""
    response = client.get_object(location.bucket, location.key)
    try:
        data: bytes = response.read(limit)
    finally:
        response.close()
        response.release_conn()
    return data.decode("utf-8", errors="replace")
