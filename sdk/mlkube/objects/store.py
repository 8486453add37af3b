"""The object-storage interface of operator, tracking server and SDK, and an in-memory one.

Streams are iterators of byte chunks in both directions, so an artifact never has to fit in
memory; ``S3Objects`` (s3.py) is the real implementation and the only module that imports an S3
client library (tests/unit/test_layers.py).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 256 * 1024


class ObjectNotFound(KeyError):
    """No object at that key."""


class ObjectStoreError(OSError):
    """The object store failed or could not be reached (worth a retry)."""


class ObjectStoreRefused(ObjectStoreError):
    """The object store's final answer (access denied, no such bucket, an invalid name): a
    retry gets the same one."""


class PreconditionFailed(ObjectStoreError):
    """A conditional write found the object changed (or, for a create, already there)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None = None  # the content's entity tag, where the listing gives it


@dataclass(frozen=True, slots=True)
class Listing:
    """One level of a prefix: objects directly under it and the sub-prefixes ("directories")."""

    objects: list[ObjectInfo]
    prefixes: list[str]


class ObjectStore(ABC):
    """Byte objects under string keys in one bucket (``bucket``)."""

    bucket: str

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write (or replace) a small object; durable when this returns."""

    @abstractmethod
    def put_if(self, key: str, data: bytes, etag: str | None) -> str:
        """Write a small object only if its entity tag still is ``etag`` (None: only if there is
        no object yet), and return the new tag; PreconditionFailed otherwise. A read-modify-write
        guarded so that concurrent writers (server replicas) never lose each other's changes."""

    @abstractmethod
    def get_tagged(self, key: str) -> tuple[bytes, str]:
        """A small object's bytes and entity tag (for ``put_if``); ObjectNotFound if missing."""

    @abstractmethod
    def put_stream(self, key: str, chunks: Iterable[bytes], length: int | None) -> int:
        """Write an object from a stream of chunks (``length`` if known); returns its size."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """A small object's bytes; ObjectNotFound if missing."""

    @abstractmethod
    def open(self, key: str) -> tuple[int, Iterator[bytes]]:
        """The size and a chunk iterator of an object; ObjectNotFound if missing. The iterator
        releases its connection when exhausted or closed."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """The object's key and size; ObjectNotFound if missing."""

    @abstractmethod
    def list_dir(self, prefix: str) -> Listing:
        """One level under ``prefix`` (which ends with "/")."""

    @abstractmethod
    def list_all(self, prefix: str) -> list[ObjectInfo]:
        """Every object under ``prefix``, recursively, ordered by key."""

    @abstractmethod
    def delete(self, keys: Iterable[str]) -> None:
        """Delete objects; missing ones are ignored."""

    @abstractmethod
    def compose(self, key: str, sources: list[str]) -> None:
        """Write ``key`` as the concatenation of ``sources`` (server-side where possible); every
        source but the last must be at least 5 MiB for S3."""

    @abstractmethod
    def copy(self, source: str, key: str, source_bucket: str | None = None) -> None:
        """Write ``key`` as a copy of ``source`` (in ``source_bucket`` of the same endpoint when
        given), server-side: no bytes pass through this process. ObjectNotFound if missing."""

    @abstractmethod
    def in_bucket(self, bucket: str) -> ObjectStore:
        """The same endpoint and credentials, another bucket (an ``s3://`` URI a user gave)."""

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def download(self, key: str, target: Path) -> Path:
        """Stream one object into the file ``target`` (never wholly in memory)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        _, chunks = self.open(key)
        with target.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        return target

    def upload(self, key: str, source: Path) -> int:
        """Stream the file ``source`` into ``key``; returns its size."""

        def chunks() -> Iterator[bytes]:
            with source.open("rb") as stream:
                while chunk := stream.read(CHUNK):
                    yield chunk

        return self.put_stream(key, chunks(), source.stat().st_size)


class MemoryObjects(ObjectStore):
    """Objects in a dict; for unit tests. ``in_bucket`` answers sibling stores of the same dict
    of buckets, as one S3 endpoint holds several buckets."""

    def __init__(
        self, bucket: str = "memory", *, _buckets: dict[str, MemoryObjects] | None = None
    ) -> None:
        self.bucket = bucket
        self._objects: dict[str, bytes] = {}
        self._buckets = {} if _buckets is None else _buckets
        self._buckets[bucket] = self
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._objects[key] = bytes(data)

    def put_if(self, key: str, data: bytes, etag: str | None) -> str:
        with self._lock:
            current = self._objects.get(key)
            if (None if current is None else etag_of(current)) != etag:
                raise PreconditionFailed(f"{key} changed since it was read")
            self._objects[key] = bytes(data)
            return etag_of(data)

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        data = self.get(key)
        return data, etag_of(data)

    def put_stream(self, key: str, chunks: Iterable[bytes], length: int | None) -> int:
        data = b"".join(chunks)
        if length is not None and len(data) != length:
            raise ValueError(f"expected {length} bytes, got {len(data)}")
        self.put(key, data)
        return len(data)

    def get(self, key: str) -> bytes:
        with self._lock:
            if key not in self._objects:
                raise ObjectNotFound(key)
            return self._objects[key]

    def open(self, key: str) -> tuple[int, Iterator[bytes]]:
        data = self.get(key)
        return len(data), iter([data[i : i + 65536] for i in range(0, len(data), 65536)])

    def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(self.get(key)))

    def list_dir(self, prefix: str) -> Listing:
        objects: list[ObjectInfo] = []
        prefixes: set[str] = set()
        with self._lock:
            for key, data in sorted(self._objects.items()):
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix) :]
                if "/" in rest:
                    prefixes.add(prefix + rest.split("/", 1)[0] + "/")
                else:
                    objects.append(ObjectInfo(key, len(data)))
        return Listing(objects, sorted(prefixes))

    def list_all(self, prefix: str) -> list[ObjectInfo]:
        with self._lock:
            return [
                ObjectInfo(k, len(v), etag_of(v))
                for k, v in sorted(self._objects.items())
                if k.startswith(prefix)
            ]

    def delete(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._objects.pop(key, None)

    def compose(self, key: str, sources: list[str]) -> None:
        self.put(key, b"".join(self.get(s) for s in sources))

    def copy(self, source: str, key: str, source_bucket: str | None = None) -> None:
        origin = self if source_bucket is None else self.in_bucket(source_bucket)
        self.put(key, origin.get(source))

    def in_bucket(self, bucket: str) -> MemoryObjects:
        if bucket not in self._buckets:
            MemoryObjects(bucket, _buckets=self._buckets)
        return self._buckets[bucket]


def etag_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def new_upload_id() -> str:
    return secrets.token_hex(16)
