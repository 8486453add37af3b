"""The atomic writer and the network-slot registry, on a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from e2e.cluster.agent import atomic_writer, ranges
from e2e.cluster.agent.atomic_writer import File
from e2e.cluster.agent.containers import Backoff


def test_the_atomic_writer_swaps_whole_payloads(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomic_writer.write(target, {"a": File(b"1"), "dir/b": File(b"2", 0o600)})
    assert (target / "a").read_text() == "1"
    assert (target / "dir" / "b").read_text() == "2"
    assert (target / "a").is_symlink()
    assert os.readlink(target / "a") == "..data/a"
    assert (target / "dir" / "b").stat().st_mode & 0o777 == 0o600
    assert not atomic_writer.write(target, {"a": File(b"1"), "dir/b": File(b"2", 0o600)})
    assert atomic_writer.write(target, {"a": File(b"changed")})
    assert (target / "a").read_text() == "changed"
    assert not (target / "dir").exists()
    assert len([p for p in target.iterdir() if p.name.startswith("..20")]) == 1


@pytest.mark.parametrize("path", ["/abs", "../up", "a/../../b", "..hidden"])
def test_the_atomic_writer_refuses_escaping_paths(tmp_path: Path, path: str) -> None:
    with pytest.raises(atomic_writer.PayloadError):
        atomic_writer.write(tmp_path / "vol", {path: File(b"x")})


def test_slots_are_exclusive_while_their_cluster_lives(tmp_path: Path) -> None:
    registry = tmp_path / "slots"
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    alive = {a: True, b: True}
    first = ranges.claim(registry, a, lambda owner: alive[owner])
    second = ranges.claim(registry, b, lambda owner: alive[owner])
    assert first.slot != second.slot
    assert ranges.claim(registry, a, lambda owner: alive[owner], first.slot) == first
    assert first.service_cidr == f"127.10.{16 * first.slot}.0/20"
    assert first.kubernetes_ip == f"127.10.{16 * first.slot}.1"
    assert first.pod_cidr == f"127.20.{16 * first.slot}.0/20"
    with pytest.raises(ranges.NoFreeSlot, match="in use"):
        ranges.claim(registry, b, lambda owner: alive[owner], first.slot)
    ranges.release(registry, a, first)
    assert ranges.claim(registry, b, lambda owner: alive[owner], first.slot) == first


def test_a_slot_whose_cluster_is_gone_is_taken_over(tmp_path: Path) -> None:
    registry = tmp_path / "slots"
    gone = tmp_path / "gone"
    gone.mkdir()
    taken = ranges.claim(registry, gone, lambda owner: True)
    gone.rmdir()
    assert ranges.claim(registry, tmp_path, lambda owner: True, taken.slot) == taken


def test_back_off_restarts_at_once_then_doubles_up_to_five_minutes() -> None:
    backoff = Backoff()
    waits = []
    now = 1000.0
    for _ in range(8):
        waits.append(backoff.next(now) - now)
        now += 1
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300]
    assert backoff.next(now + 3600) == now + 3600  # forgotten after a quiet spell


def test_pull_back_off_waits_from_the_first_failure() -> None:
    backoff = Backoff(first_immediate=False)
    assert backoff.next(0.0) == 10.0
    assert backoff.next(10.0) == 30.0
