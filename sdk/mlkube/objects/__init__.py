"""Object storage for operator, tracking server and SDK: one protocol, one S3 implementation.

``ObjectStore`` (store.py) is the interface and ``MemoryObjects`` its in-memory version for tests;
``S3Objects`` (s3.py) speaks S3 and is the only module that imports the ``minio`` library.
``mlkube.storage.S3Settings.objects()`` builds one from the ``MLKUBE_S3_*`` settings.
"""

from mlkube.objects.store import (
    Listing,
    MemoryObjects,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    ObjectStoreRefused,
    PreconditionFailed,
    etag_of,
    new_upload_id,
)

__all__ = [
    "Listing",
    "MemoryObjects",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "ObjectStoreRefused",
    "PreconditionFailed",
    "etag_of",
    "new_upload_id",
]
