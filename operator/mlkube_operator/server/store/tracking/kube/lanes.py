"""Group commit: concurrent writes to one run are coalesced into one durable write.

Each write waits in its run's lane. Whoever finds the lane idle becomes the flusher: it takes
every waiting write, applies them in arrival order and makes the result durable with one object
storage write and one API-server patch; writes that arrive meanwhile form the next group. Each
caller returns only once the group holding its write is durable, with its own result or error.
A lone client pays nothing extra; many clients logging to one run (or one client's concurrent
threads) share patches instead of fighting over resourceVersions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K")


@dataclass(eq=False)
class Write:
    """One caller's write; the flusher fills ``result`` or ``error``."""

    apply: Callable[[Any], Any]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Lane:
    waiting: list[Write] = field(default_factory=list)
    busy: bool = False
    users: int = 0


class Lanes(Generic[K]):
    """One lane per key; ``flush(key, writes)`` must mark every write done."""

    def __init__(self, flush: Callable[[K, list[Write]], None]) -> None:
        self._flush = flush
        self._lanes: dict[K, _Lane] = {}
        self._cond = threading.Condition()

    def waiting(self, key: K) -> int:
        """How many writes wait in ``key``'s lane for the next flush (0 for an idle lane)."""
        with self._cond:
            lane = self._lanes.get(key)
            return 0 if lane is None else len(lane.waiting)

    def submit(self, key: K, write: Write) -> Any:
        with self._cond:
            lane = self._lanes.setdefault(key, _Lane())
            lane.users += 1
            lane.waiting.append(write)
            try:
                while not write.done:
                    if lane.busy:
                        self._cond.wait()
                        continue
                    group, lane.waiting, lane.busy = lane.waiting, [], True
                    self._cond.release()
                    try:
                        self._flush(key, group)
                    except BaseException as err:
                        for item in group:
                            if not item.done:
                                item.error, item.done = err, True
                    finally:
                        self._cond.acquire()
                        lane.busy = False
                        self._cond.notify_all()
            finally:
                lane.users -= 1
                if lane.users == 0 and not lane.waiting:
                    del self._lanes[key]
        if write.error is not None:
            raise write.error
        return write.result
