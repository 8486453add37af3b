"""Making a run's writes durable: group commit through lanes, compare-and-swap patches.

Writes to one Run wait in its lane (lanes.py); the flusher applies the group to a RunDraft and
persists it in a fixed order: metric points to the history, then the extra document, then the
status merge patch carrying the resourceVersion the draft was computed from. The status never
points at data that is not durable yet. A 409 means someone else (the operator, another
replica) wrote in between: re-read the Run and re-apply the group; the points already written
are not written again.

Conflicts are retried for CONFLICT_BUDGET seconds, not a number of times: a replica whose lane
always holds the next group wins race after race against one that must re-read first (issue
17's fault suite saw eight straight losses under two replicas' writers). The loser pauses a
random, growing moment between attempts; past the budget the answer is 503, which MLflow's
client retries (it gives up on a 409).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from mlkube import layout
from mlkube.api.kinds import RUN
from mlkube.objects import ObjectStore
from mlkube_operator.kube import Conflict, KubeClient, KubeError, NotFound
from mlkube_operator.server.errors import ErrorCode, MlflowError, not_found
from mlkube_operator.server.store.shared.errors import unavailable
from mlkube_operator.server.store.tracking.kube.cache import RunRecord, TrackingCache
from mlkube_operator.server.store.tracking.kube.drafts import RunDraft
from mlkube_operator.server.store.tracking.kube.extra import Extra
from mlkube_operator.server.store.tracking.kube.history import MetricHistory
from mlkube_operator.server.store.tracking.kube.lanes import Lanes, Write

log = logging.getLogger("mlkube.server.runs")
CONFLICT_BUDGET = 10.0  # seconds
LONGEST_PAUSE = 0.2  # seconds between two attempts, at most


class RunWriter:
    def __init__(
        self,
        client: KubeClient,
        cache: TrackingCache,
        objects: ObjectStore,
        history: MetricHistory,
    ) -> None:
        self.client = client
        self.cache = cache
        self.objects = objects
        self.history = history
        self.lanes: Lanes[tuple[str, str]] = Lanes(self._flush_run)

    def submit(self, namespace: str, name: str, apply: Callable[[RunDraft], Any]) -> Any:
        """Apply ``apply`` to the Run ``name``; return its result once durable."""
        return self.lanes.submit((namespace, name), Write(apply))

    def _flush_run(self, key: tuple[str, str], writes: list[Write]) -> None:
        """Apply a group of writes to one Run and make them durable (see lanes.py)."""
        namespace, name = key
        progress = {"history": False}  # survives a retry: points are written once
        deadline = time.monotonic() + CONFLICT_BUDGET
        attempt = 0
        while True:
            record = self.cache.run_by_name(namespace, name)
            if record is None:
                raise not_found(f"no run {name!r} in workspace {namespace!r}")
            draft = RunDraft(record)
            accepted: list[Write] = []
            for write in writes:
                if write.done:
                    continue
                try:
                    write.result = write.apply(draft)
                    accepted.append(write)
                except MlflowError as err:
                    write.error, write.done = err, True
            if draft.dirty:
                try:
                    self._persist(namespace, record, draft, progress)
                except Conflict:
                    if time.monotonic() > deadline:
                        break
                    attempt += 1
                    time.sleep(random.uniform(0, min(LONGEST_PAUSE, 0.005 * 2**attempt)))
                    try:
                        self.cache.put_run(self.client.get(RUN, namespace, name), None)
                    except NotFound:
                        raise not_found(f"the run {name} was deleted") from None
                    continue
                except NotFound:
                    raise not_found(f"the run {name} was deleted") from None
                except (KubeError, OSError) as err:
                    raise unavailable(err) from None
            for write in accepted:
                write.done = True
            return
        raise MlflowError(
            ErrorCode.TEMPORARILY_UNAVAILABLE,
            f"the run {name} kept changing under concurrent writers for {CONFLICT_BUDGET:.0f} s; "
            "retry",
        )

    def _persist(
        self, namespace: str, record: RunRecord, draft: RunDraft, progress: dict[str, bool]
    ) -> None:
        """History first, then the extra document, then the status patch (compare-and-swap on
        the resourceVersion the draft started from): the status never points at data that is
        not durable yet."""
        name = record.resource.metadata.name
        run_prefix = ""
        if draft.history or draft.extra_dirty:
            assert record.entity is not None  # only started runs log values
            info = record.entity.info
            run_prefix = layout.run_prefix(namespace, info.experiment_id, info.run_id)
        if draft.history and not progress["history"]:
            self.history.append(run_prefix + "metrics/", draft.history)
            progress["history"] = True
        extra: Extra | None = None
        if draft.extra_dirty:
            extra, content = draft.new_extra()
            self.objects.put(run_prefix + str(extra.object), content)
        body = {"metadata": {"resourceVersion": str(record.version)}, "status": draft.patch}
        obj = self.client.patch(RUN, namespace, name, body, status=True)
        self.cache.put_run(obj, extra)
        if extra is not None and draft.extra_object:
            try:
                self.objects.delete([run_prefix + draft.extra_object])
            except OSError:
                log.warning("could not delete the replaced %s of %s", draft.extra_object, name)
