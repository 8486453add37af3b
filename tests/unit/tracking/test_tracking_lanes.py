"""Group commit: concurrent writes to one key share flushes; each gets its own outcome."""

from __future__ import annotations

import threading
from typing import Any

from e2e.cluster.waiting import eventually

from mlkube_operator.server.errors import MlflowError, invalid
from mlkube_operator.server.store.tracking.kube.lanes import Lanes, Write


def test_concurrent_writes_are_coalesced_and_keep_their_own_errors() -> None:
    groups: list[int] = []
    state: list[str] = []
    gate = threading.Event()

    def flush(key: str, writes: list[Write]) -> None:
        groups.append(len(writes))
        if len(groups) == 1:
            gate.wait(5)  # hold the first flush so the others queue up behind it
        for write in writes:
            try:
                write.result = write.apply(state)
            except MlflowError as err:
                write.error = err
            write.done = True

    lanes: Lanes[str] = Lanes(flush)
    results: dict[int, Any] = {}

    def submit(i: int) -> None:
        def apply(target: list[str]) -> int:
            if i == 3:
                raise invalid("three is rejected")
            target.append(str(i))
            return i

        try:
            results[i] = lanes.submit("run", Write(apply))
        except MlflowError as err:
            results[i] = err.message

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    eventually(lambda: groups, timeout=5, what="the first flush", every=0.001)
    others = [threading.Thread(target=submit, args=(i,)) for i in range(1, 6)]
    for thread in others:
        thread.start()
    eventually(lambda: lanes.waiting("run") == 5, timeout=5, what="five queued writes", every=0.001)
    gate.set()
    for thread in [first, *others]:
        thread.join(5)
    assert results == {0: 0, 1: 1, 2: 2, 3: "three is rejected", 4: 4, 5: 5}
    assert groups[0] == 1
    assert sum(groups) == 6
    assert len(groups) < 6  # the five waiting writes did not each get a flush
