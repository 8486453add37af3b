"""ObjectStore over S3 (MinIO) with the ``minio`` client: the only module that imports it.

Uploads go through ``put_object`` with a bounded part size, so at most one part (16 MiB) of a
stream is in memory at a time whatever the artifact's size; downloads stream the response.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import ComposeSource, CopySource
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from mlkube.objects.store import (
    CHUNK,
    Listing,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    ObjectStoreRefused,
    PreconditionFailed,
)

PART_SIZE = 16 * 1024 * 1024
MIN_COMPOSE_PART = 5 * 1024 * 1024
_MISSING = {"NoSuchKey", "NoSuchObject", "ResourceNotFound", "NotFound"}
# S3 error codes that a later attempt may not get; every other code is the store's final answer.
_TRANSIENT = {
    "InternalError",
    "OperationAborted",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "XMinioServerNotInitialized",
}
PRESIGN_FOR = timedelta(minutes=5)
P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def _missing_as_not_found(key: str) -> Iterator[None]:
    """S3's answers for an absent object (or bucket) as ObjectNotFound naming ``key``."""
    try:
        yield
    except S3Error as err:
        if err.code in _MISSING:
            raise ObjectNotFound(key) from None
        raise


def _failures_as_store_errors(method: Callable[P, R]) -> Callable[P, R]:
    """The client's own error types stay in this module: callers see ObjectNotFound,
    ObjectStoreRefused for the store's final answers (an S3 error code such as AccessDenied or
    NoSuchBucket; arguments the client refuses to send), or ObjectStoreError for what a retry
    might cure (no connection, a 5xx, a garbled answer)."""

    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (ObjectNotFound, ObjectStoreError):
            raise
        except S3Error as err:
            final = err.code not in _TRANSIENT
            raise (ObjectStoreRefused if final else ObjectStoreError)(
                f"object storage: {err}"
            ) from err
        except ValueError as err:
            raise ObjectStoreRefused(f"object storage: {err}") from err
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as err:
            raise ObjectStoreError(f"object storage: {err}") from err

    return wrapped


class ChunkReader(io.RawIOBase):
    """A read()-able file over an iterator of byte chunks (what ``put_object`` wants)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self.total = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.total += len(out)
        return out


class S3Objects(ObjectStore):
    """Objects in one bucket of an S3 endpoint (created when missing)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str) -> None:
        self.bucket = bucket
        url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        if not url.netloc:
            raise ValueError(
                f"MLKUBE_S3_ENDPOINT {endpoint!r} is not a URL such as http://host:9000"
            )
        # Many handler threads share the client: size its connection pool to match, and bound
        # every call so a stuck endpoint turns into an error rather than a hung request.
        http = urllib3.PoolManager(
            maxsize=64,
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self.http = http
        self.client = Minio(
            url.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=url.scheme == "https",
            http_client=http,
        )

    @_failures_as_store_errors
    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as err:
                if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    @_failures_as_store_errors
    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(self.bucket, key, io.BytesIO(data), len(data))

    @_failures_as_store_errors
    def put_if(self, key: str, data: bytes, etag: str | None) -> str:
        # minio's put_object turns unknown headers into user metadata, so the conditional
        # PUT goes to a presigned URL (If-Match / If-None-Match, which MinIO enforces).
        url = self.client.presigned_put_object(self.bucket, key, expires=PRESIGN_FOR)
        condition = {"If-None-Match": "*"} if etag is None else {"If-Match": f'"{etag}"'}
        response = self.http.request("PUT", url, body=data, headers=condition, retries=False)
        if response.status in (404, 409, 412):
            raise PreconditionFailed(f"{key} changed since it was read ({response.status})")
        if response.status != 200:
            raise ObjectStoreError(f"PUT {key}: HTTP {response.status}: {response.data[:200]!r}")
        return _tag(response.headers.get("ETag"))

    @_failures_as_store_errors
    def get_tagged(self, key: str) -> tuple[bytes, str]:
        with _missing_as_not_found(key):
            response = self.client.get_object(self.bucket, key)
        try:
            return bytes(response.read()), _tag(response.headers.get("ETag"))
        finally:
            response.close()
            response.release_conn()

    @_failures_as_store_errors
    def put_stream(self, key: str, chunks: Iterable[bytes], length: int | None) -> int:
        reader = ChunkReader(chunks)
        self.client.put_object(
            self.bucket,
            key,
            reader,  # type: ignore[arg-type]  # minio only calls read(); typeshed wants BinaryIO
            -1 if length is None else length,
            part_size=PART_SIZE,
        )
        return reader.total

    @_failures_as_store_errors
    def get(self, key: str) -> bytes:
        with _missing_as_not_found(key):
            response = self.client.get_object(self.bucket, key)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    @_failures_as_store_errors
    def open(self, key: str) -> tuple[int, Iterator[bytes]]:
        with _missing_as_not_found(key):
            response = self.client.get_object(self.bucket, key)
        size = int(response.headers.get("Content-Length", "0"))

        def chunks() -> Iterator[bytes]:
            try:
                yield from response.stream(CHUNK)
            finally:
                response.close()
                response.release_conn()

        return size, chunks()

    @_failures_as_store_errors
    def stat(self, key: str) -> ObjectInfo:
        with _missing_as_not_found(key):
            info = self.client.stat_object(self.bucket, key)
        return ObjectInfo(key, info.size or 0)

    @_failures_as_store_errors
    def list_dir(self, prefix: str) -> Listing:
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        for item in self.client.list_objects(self.bucket, prefix=prefix, recursive=False):
            name = item.object_name or ""
            if item.is_dir:
                prefixes.append(name)
            else:
                objects.append(ObjectInfo(name, item.size or 0))
        return Listing(objects, prefixes)

    @_failures_as_store_errors
    def list_all(self, prefix: str) -> list[ObjectInfo]:
        return [
            ObjectInfo(item.object_name or "", item.size or 0, _tag(item.etag))
            for item in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        ]

    @_failures_as_store_errors
    def delete(self, keys: Iterable[str]) -> None:
        errors = list(self.client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        if errors:
            raise ObjectStoreError(f"could not delete {len(errors)} objects, first: {errors[0]}")

    @_failures_as_store_errors
    def compose(self, key: str, sources: list[str]) -> None:
        sizes = [self.client.stat_object(self.bucket, s).size or 0 for s in sources]
        if all(size >= MIN_COMPOSE_PART for size in sizes[:-1]):
            self.client.compose_object(
                self.bucket, key, [ComposeSource(self.bucket, s) for s in sources]
            )
            return

        # Parts too small for a server-side compose: stream them through, one part at a time.
        def chained() -> Iterator[bytes]:
            for source in sources:
                _, chunks = self.open(source)
                yield from chunks

        self.put_stream(key, chained(), sum(sizes))

    @_failures_as_store_errors
    def copy(self, source: str, key: str, source_bucket: str | None = None) -> None:
        with _missing_as_not_found(source):
            self.client.copy_object(
                self.bucket, key, CopySource(source_bucket or self.bucket, source)
            )

    def in_bucket(self, bucket: str) -> S3Objects:
        if bucket == self.bucket:
            return self
        sibling = copy.copy(self)  # shares the client and its connection pool
        sibling.bucket = bucket
        return sibling


def _tag(value: str | None) -> str:
    """An entity tag without its quotes (S3 quotes them in headers, not always in listings)."""
    return (value or "").strip('"')
