"""The SDK's prefix-wide storage operations (mlkube.storage) over the one object-store protocol
(mlkube.objects), with MemoryObjects standing in for S3: buckets, copies, reads, deletes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkube.objects import MemoryObjects, ObjectNotFound
from mlkube.storage import (
    S3Location,
    copy_prefix,
    delete_prefix,
    download,
    exists,
    list_keys,
    read_text,
)


def test_a_prefix_is_copied_between_buckets_and_deleted() -> None:
    store = MemoryObjects("mlkube")
    theirs = store.in_bucket("theirs")
    theirs.put("data/model/MLmodel", b"flavors: {}\n")
    theirs.put("data/model/sub/weights.bin", b"\x00\x01")
    theirs.put("data/model-sibling/MLmodel", b"not this")
    target = S3Location("mlkube", "ns/models/m/1")

    assert copy_prefix(store, S3Location("theirs", "data/model"), target) == 2
    assert list_keys(store, target) == ["ns/models/m/1/MLmodel", "ns/models/m/1/sub/weights.bin"]
    assert read_text(store, S3Location("mlkube", "ns/models/m/1/MLmodel")) == "flavors: {}\n"
    assert read_text(store, S3Location("mlkube", "ns/models/m/1/MLmodel"), limit=7) == "flavors"
    assert store.in_bucket("mlkube") is store

    assert delete_prefix(store, target) == 2
    assert list_keys(store, target) == []
    assert list_keys(store, S3Location("theirs", "data/model")) != []


def test_files_go_up_and_down_and_missing_objects_say_so(tmp_path: Path) -> None:
    store = MemoryObjects("mlkube")
    source = tmp_path / "archive.tar.gz"
    source.write_bytes(b"x" * 300_000)
    assert store.upload("ns/projects/a.tar.gz", source) == 300_000
    where = S3Location("mlkube", "ns/projects/a.tar.gz")
    assert exists(store, where)
    assert not exists(store, S3Location("mlkube", "ns/projects/b.tar.gz"))
    copy = download(store, where, tmp_path / "down" / "a.tar.gz")
    assert copy.read_bytes() == source.read_bytes()
    with pytest.raises(ObjectNotFound):
        read_text(store, S3Location("other", "missing"))
    with pytest.raises(ObjectNotFound):
        store.copy("missing", "anywhere")
