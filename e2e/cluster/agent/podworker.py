"""One thread per pod, like the kubelet's pod workers: level-triggered syncs that drive the pod's
containers towards its spec and report what happened.

A sync (on any change of the pod, of one of its containers or probes, and at least every 30 s):

1. deleted (or being deleted): stop every container (preStop, SIGTERM, the grace period, SIGKILL;
   regular containers first, then sidecars), post the final status, delete the pod object with
   grace 0 (the kubelet's final delete) and remove its files;
2. terminal (Succeeded/Failed): nothing runs any more; the sandbox (IP, volumes) is released;
3. otherwise: the sandbox (pod IP, hosts/resolv.conf, volumes, refreshed every minute), then init
   containers one at a time (sidecars kept running), then all containers, each restarted per the
   restart policy with the kubelet's back-off; liveness/startup failures restart a container;
4. the status (``status.pod_status``) is patched whenever it changed.
"""

from __future__ import annotations

import calendar
import dataclasses
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from e2e.cluster.agent import env, hostfiles, images, logs, probes, status
from e2e.cluster.agent.api import Api
from e2e.cluster.agent.containers import ContainerProbes, PodFiles, Slot, configure
from e2e.cluster.agent.events import Involved, Recorder
from e2e.cluster.agent.ipam import Exhausted, Ipam
from e2e.cluster.agent.kube import ApiError
from e2e.cluster.agent.model import (
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    Pod,
    PodIP,
    PodStatus,
    Service,
)
from e2e.cluster.agent.runtime import Handle, Runtime, utc_now
from e2e.cluster.agent.status import ContainerRecord, Observed, is_sidecar
from e2e.cluster.agent.volumes import VolumeError, Volumes

log = logging.getLogger(__name__)
RESYNC_SECONDS = 30.0
VOLUME_REFRESH_SECONDS = 60.0
MIN_GRACE_SECONDS = 2
MESSAGE_LIMIT = 4096


@dataclass
class PodContext:
    """What every pod worker shares."""

    node_name: str
    node_ip: str
    root: Path
    cluster_dns: str
    cluster_domain: str
    api: Api
    runtime: Runtime
    volumes: Volumes
    images: images.ImageTable
    recorder: Recorder
    ipam: Ipam
    services: Callable[[], list[Service]]
    allocatable: Callable[[], dict[str, str]]
    host_resolv: hostfiles.HostResolv
    host_hosts: str
    stopping: threading.Event

    def pod_dir(self, uid: str) -> Path:
        return self.root / "pods" / uid

    def log_dir(self, pod: Pod) -> Path:
        meta = pod.metadata
        return self.root / "logs" / f"{meta.namespace}_{meta.name}_{meta.uid}"

    def log_path(self, pod: Pod, container: str, index: int) -> Path:
        return self.log_dir(pod) / container / f"{index}.log"


@dataclass
class Sandbox:
    ip: str
    files: PodFiles
    volumes_at: float = 0.0


def _terminated_unknown() -> ContainerState:
    return ContainerState(
        terminated=ContainerStateTerminated(
            exit_code=137,
            reason="ContainerStatusUnknown",
            message="The container could not be located when the node agent restarted",
            finished_at=utc_now(),
        )
    )


class PodWorker:
    def __init__(self, ctx: PodContext, pod: Pod, on_done: Callable[[PodWorker], None]) -> None:
        self.ctx = ctx
        self.uid = pod.metadata.uid
        self.pod = pod
        self.gone = False
        self.on_done = on_done
        self.sandbox: Sandbox | None = None
        self.start_time = pod.status.start_time or utc_now()
        self.terminal = pod.status.phase in status.TERMINAL
        self.deadline_exceeded = False
        self._sent: dict[str, object] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._wake.set()
        self.slots: dict[str, Slot] = {}
        initial = status.initial_state(pod)
        for container in pod.spec.init_containers:
            self.slots[container.name] = Slot(
                container, True, ContainerRecord(container.name, container.image, initial)
            )
        for container in pod.spec.containers:
            self.slots[container.name] = Slot(
                container, False, ContainerRecord(container.name, container.image, initial)
            )
        self._restore(pod)
        self._thread = threading.Thread(target=self._run, name=f"pod {pod.key}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- inputs ---------------------------------------------------------------------------------

    def update(self, pod: Pod | None) -> None:
        with self._lock:
            if pod is None:
                self.gone = True
            else:
                self.pod = pod
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def pending(self) -> tuple[bool, Pod, bool]:
        """(news since the last sync, the latest pod, deleted from the API)."""
        with self._lock:
            return self._wake.is_set(), self.pod, self.gone

    def handle_of(self, container: str) -> Handle | None:
        slot = self.slots.get(container)
        return slot.handle if slot else None

    def _restore(self, pod: Pod) -> None:
        """A pod the agent ran before it restarted: its processes are gone, its history is not."""
        for cs in (pod.status.init_container_statuses or []) + (
            pod.status.container_statuses or []
        ):
            slot = self.slots.get(cs.name)
            if slot is None or cs.container_id is None:
                continue  # never created
            record = slot.record
            record.restart_count = cs.restart_count
            record.image_id = cs.image_id
            record.container_id = cs.container_id
            record.state = cs.state
            record.last_state = cs.last_state
            slot.next_index = cs.restart_count + 1
            if cs.state.terminated is not None:
                slot.last_terminated = cs.state
            elif cs.state.waiting is not None and cs.last_state.terminated is not None:
                slot.last_terminated = cs.last_state
            elif cs.state.running is not None and not self.terminal:
                record.state = slot.last_terminated = _terminated_unknown()

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._timeout())
            self._wake.clear()
            if self.ctx.stopping.is_set():
                return
            try:
                done = self._sync()
            except Exception:
                log.exception("pod %s: sync failed", self.pod.key)
                done = False
                self.ctx.stopping.wait(1.0)
            if done:
                self.on_done(self)
                return

    def _timeout(self) -> float:
        now = time.monotonic()
        due = [s.retry_at - now for s in self.slots.values() if s.retry_at > now]
        if self.sandbox is not None:
            due.append(self.sandbox.volumes_at + VOLUME_REFRESH_SECONDS - now)
        deadline = self._deadline()
        if deadline is not None:
            due.append(deadline - time.time())
        return max(0.05, min([RESYNC_SECONDS, *due]))

    def _deadline(self) -> float | None:
        seconds = self.pod.spec.active_deadline_seconds
        if seconds is None:
            return None
        started = calendar.timegm(time.strptime(self.start_time, "%Y-%m-%dT%H:%M:%SZ"))
        return started + seconds

    def _involved(self, slot: Slot | None = None) -> Involved:
        meta = self.pod.metadata
        field_path = ""
        if slot is not None:
            field_path = f"spec.{'initContainers' if slot.init else 'containers'}{{{slot.name}}}"
        return Involved("Pod", meta.namespace, meta.name, meta.uid, field_path)

    # -- one sync -------------------------------------------------------------------------------

    def _sync(self) -> bool:
        with self._lock:
            pod, gone = self.pod, self.gone
        if gone or pod.metadata.deletion_timestamp is not None:
            self._terminate(pod, gone)
            return True
        if self.terminal:
            self._stop_all(pod, pod.spec.termination_grace_period_seconds)
            self._teardown(pod, remove_logs=False)
            return True
        deadline = self._deadline()
        if deadline is not None and time.time() >= deadline:
            self.deadline_exceeded = True
            self.ctx.recorder.normal(
                self._involved(),
                "DeadlineExceeded",
                "Pod was active on the node longer than the specified deadline",
            )
            self._stop_all(pod, pod.spec.termination_grace_period_seconds)
        if not self.deadline_exceeded and self._ensure_sandbox(pod):
            self._sync_containers(pod)
        new = self._report(pod)
        if new.phase in status.TERMINAL:
            self.terminal = True
            self._stop_all(pod, pod.spec.termination_grace_period_seconds)
            self._report(pod)
            self._teardown(pod, remove_logs=False)
            return True
        return False

    def _terminate(self, pod: Pod, gone: bool) -> None:
        grace = pod.metadata.deletion_grace_period_seconds
        if grace is None:
            grace = pod.spec.termination_grace_period_seconds
        self._stop_all(pod, max(grace, MIN_GRACE_SECONDS) if not gone else MIN_GRACE_SECONDS)
        if not gone:
            if not self.terminal:
                self._report(pod, terminal=True)
            try:
                self.ctx.api.delete_pod_now(pod)
            except ApiError as err:
                log.warning("pod %s: final delete: %s", pod.key, err)
        self._teardown(pod, remove_logs=True)

    def _teardown(self, pod: Pod, *, remove_logs: bool) -> None:
        for slot in self.slots.values():
            if slot.probes is not None:
                slot.probes.stop()
                slot.probes = None
        self.ctx.ipam.release(self.uid)
        self.ctx.volumes.forget(self.uid)
        shutil.rmtree(self.ctx.pod_dir(self.uid), ignore_errors=True)
        self.sandbox = None
        if remove_logs:
            shutil.rmtree(self.ctx.log_dir(pod), ignore_errors=True)

    # -- sandbox --------------------------------------------------------------------------------

    def _ensure_sandbox(self, pod: Pod) -> bool:
        ctx = self.ctx
        if self.sandbox is None:
            try:
                ip = (
                    ctx.node_ip
                    if pod.spec.host_network
                    else ctx.ipam.allocate(self.uid, pod.status.pod_ip)
                )
            except Exhausted as err:
                self._waiting_all("ContainerCreating", str(err))
                return False
            pod_dir = ctx.pod_dir(self.uid)
            etc = pod_dir / "etc"
            etc.mkdir(parents=True, exist_ok=True)
            shm = pod_dir / "shm"
            shm.mkdir(exist_ok=True)
            shm.chmod(0o1777)
            name = hostfiles.hostname(pod)
            (etc / "hosts").write_text(hostfiles.hosts(pod, ip, ctx.cluster_domain, ctx.host_hosts))
            (etc / "resolv.conf").write_text(
                hostfiles.resolv_conf(pod, ctx.cluster_dns, ctx.cluster_domain, ctx.host_resolv)
            )
            (etc / "hostname").write_text(name + "\n")
            files = PodFiles(etc / "hosts", etc / "resolv.conf", etc / "hostname", shm, {})
            self.sandbox = Sandbox(ip=ip, files=files)
        sandbox = self.sandbox
        now = time.monotonic()
        if sandbox.volumes_at == 0.0 or now - sandbox.volumes_at >= VOLUME_REFRESH_SECONDS:
            # A pod with the IP filled in: downward-API files and variables can read it.
            pod = self._with_ips(pod)
            try:
                volumes = ctx.volumes.setup(pod, ctx.pod_dir(self.uid) / "volumes")
            except VolumeError as err:
                ctx.recorder.warning(self._involved(), "FailedMount", str(err))
                if sandbox.volumes_at == 0.0:
                    self._waiting_all("ContainerCreating", None)
                    for slot in self.slots.values():
                        slot.retry_at = max(slot.retry_at, now + 2.0)
                    return False
                return True
            sandbox.files = PodFiles(
                sandbox.files.hosts,
                sandbox.files.resolv,
                sandbox.files.hostname,
                sandbox.files.shm,
                volumes,
            )
            sandbox.volumes_at = now
        return True

    def _with_ips(self, pod: Pod) -> Pod:
        assert self.sandbox is not None
        ip = self.sandbox.ip
        return pod.model_copy(
            update={
                "spec": pod.spec.model_copy(
                    update={"node_name": pod.spec.node_name or self.ctx.node_name}
                ),
                "status": pod.status.model_copy(
                    update={
                        "pod_ip": ip,
                        "pod_ips": [PodIP(ip=ip)],
                        "host_ip": self.ctx.node_ip,
                        "host_ips": [PodIP(ip=self.ctx.node_ip)],
                    }
                ),
            }
        )

    def _waiting_all(self, reason: str, message: str | None) -> None:
        for slot in self.slots.values():
            if slot.handle is None and slot.record.state.terminated is None:
                slot.record.state = ContainerState(
                    waiting=ContainerStateWaiting(reason=reason, message=message)
                )

    # -- containers -----------------------------------------------------------------------------

    def _sync_containers(self, pod: Pod) -> None:
        for slot in self.slots.values():
            self._observe(pod, slot)
        for slot in self.slots.values():
            failed = slot.probes.failed() if slot.probes else None
            if failed and slot.running:
                probe = (
                    slot.container.liveness_probe
                    if failed == "liveness"
                    else slot.container.startup_probe
                )
                grace = (
                    probe.termination_grace_period_seconds if probe else None
                ) or pod.spec.termination_grace_period_seconds
                self.ctx.recorder.normal(
                    self._involved(slot),
                    "Killing",
                    f"Container {slot.name} failed {failed} probe, will be restarted",
                )
                self._kill(slot, grace)
                self._observe(pod, slot)
        policy = pod.spec.restart_policy
        initialized = True
        for container in pod.spec.init_containers:
            slot = self.slots[container.name]
            if is_sidecar(container):
                if not slot.active:
                    self._start_or_wait(pod, slot)
                if not (slot.running and slot.record.started):
                    initialized = False
                    break
                continue
            if slot.exit_code == 0 and not slot.active:
                continue
            initialized = False
            if slot.active:
                break
            if slot.last_terminated is None or policy != "Never":
                self._start_or_wait(pod, slot)
            break
        if not initialized:
            return
        regular_done = True
        for container in pod.spec.containers:
            slot = self.slots[container.name]
            if slot.active:
                regular_done = False
                continue
            if slot.last_terminated is None or slot.should_restart(policy):
                regular_done = False
                self._start_or_wait(pod, slot)
        if regular_done and policy != "Always":
            # Every regular container has finished for good: the sidecars go too.
            sidecars = [self.slots[c.name] for c in pod.spec.init_containers if is_sidecar(c)]
            for slot in reversed(sidecars):
                if slot.active:
                    self._kill(slot, pod.spec.termination_grace_period_seconds)
                    self._observe(pod, slot)
                    slot.retry_at = float("inf")

    def _start_or_wait(self, pod: Pod, slot: Slot) -> None:
        """Start the container unless it is backing off; say so while it is."""
        now = time.monotonic()
        if slot.retry_at == float("inf"):
            return
        if now >= slot.retry_at:
            self._start(pod, slot)
            return
        meta = pod.metadata
        waiting = slot.record.state.waiting
        if slot.last_terminated is not None and waiting is None:
            slot.record.state = ContainerState(
                waiting=ContainerStateWaiting(
                    reason="CrashLoopBackOff",
                    message=(
                        f"back-off {slot.crash_wait:.0f}s restarting failed container={slot.name} "
                        f"pod={meta.name}_{meta.namespace}({meta.uid})"
                    ),
                )
            )
            slot.record.last_state = slot.last_terminated
            self.ctx.recorder.warning(
                self._involved(slot),
                "BackOff",
                f"Back-off restarting failed container {slot.name} in pod "
                f"{meta.name}_{meta.namespace}({meta.uid})",
            )
        elif waiting is not None and waiting.reason == "ErrImagePull":
            message = f'Back-off pulling image "{slot.container.image}"'
            slot.record.state = ContainerState(
                waiting=ContainerStateWaiting(reason="ImagePullBackOff", message=message)
            )
            self.ctx.recorder.normal(self._involved(slot), "BackOff", message)

    def _start(self, pod: Pod, slot: Slot) -> None:
        ctx = self.ctx
        assert self.sandbox is not None
        container = slot.container
        now = time.monotonic()
        try:
            image = ctx.images.resolve(container.image)
        except images.ImageNotFound as err:
            message = f'Failed to pull image "{container.image}": {err}'
            slot.record.state = ContainerState(
                waiting=ContainerStateWaiting(reason="ErrImagePull", message=message)
            )
            slot.retry_at = slot.pull.next(now)
            ctx.recorder.warning(self._involved(slot), "Failed", message)
            ctx.recorder.warning(self._involved(slot), "Failed", "Error: ErrImagePull")
            return
        ctx.recorder.normal(
            self._involved(slot),
            "Pulled",
            f'Container image "{container.image}" already present on machine',
        )
        index = slot.next_index
        sources = env.Sources(
            config_map=ctx.api.config_map,
            secret=ctx.api.secret,
            services=ctx.services(),
            node_allocatable=ctx.allocatable(),
        )
        try:
            config = configure(
                self._with_ips(pod),
                container,
                image,
                sources,
                self.sandbox.files,
                index=index,
                instance_dir=ctx.pod_dir(self.uid) / "containers" / container.name / str(index),
                log_path=ctx.log_path(pod, container.name, index),
                hostname=hostfiles.hostname(pod),
            )
        except (env.ConfigError, ApiError, OSError) as err:
            slot.record.state = ContainerState(
                waiting=ContainerStateWaiting(reason="CreateContainerConfigError", message=str(err))
            )
            slot.retry_at = slot.config_errors.next(now)
            ctx.recorder.warning(self._involved(slot), "Failed", f"Error: {err}")
            return
        try:
            handle = ctx.runtime.start(config)
        except Exception as err:
            slot.record.state = ContainerState(
                waiting=ContainerStateWaiting(reason="CreateContainerError", message=str(err))
            )
            slot.retry_at = slot.config_errors.next(now)
            return
        slot.handle = handle
        slot.next_index = index + 1
        record = slot.record
        record.container_id = handle.container_id
        record.image_id = image.image_id
        record.restart_count = index
        if slot.last_terminated is not None:
            record.last_state = slot.last_terminated
        self._prune_logs(pod, container.name, index)
        ctx.recorder.normal(self._involved(slot), "Created", f"Created container {container.name}")
        slot.target = probes.Target(
            pod_ip=self.sandbox.ip,
            container=container,
            pid=0,
            env=config.env,
            working_dir=config.working_dir,
            uid=config.uid,
            gid=config.gid,
        )

    def _prune_logs(self, pod: Pod, container: str, index: int) -> None:
        """Keep the current and the previous instance's logs (``kubectl logs --previous``)."""
        directory = self.ctx.log_dir(pod) / container
        if not directory.is_dir():
            return
        for path in directory.iterdir():
            number = path.name.split(".", 1)[0]
            if number.isdigit() and int(number) < index - 1:
                path.unlink(missing_ok=True)

    def _observe(self, pod: Pod, slot: Slot) -> None:
        """Fold the runtime's news about the slot's instance into its record."""
        handle = slot.handle
        if handle is None:
            return
        record = slot.record
        if handle.started_at is not None and record.state.running is None and handle.exit is None:
            record.state = ContainerState(
                running=ContainerStateRunning(started_at=handle.started_at)
            )
            record.last_state = slot.last_terminated or ContainerState()
            assert slot.target is not None
            assert handle.pid is not None
            slot.target = dataclasses.replace(slot.target, pid=handle.pid)

            def unhealthy(kind: str, message: str, slot: Slot = slot) -> None:
                self._unhealthy(slot, kind, message)

            slot.probes = ContainerProbes(slot.container, slot.target, self.wake, unhealthy)
            self.ctx.recorder.normal(
                self._involved(slot), "Started", f"Started container {slot.name}"
            )
            self._post_start(pod, slot)
        if slot.probes is not None and handle.exit is None:
            record.started = slot.probes.started
            record.ready = slot.probes.ready
        if handle.exit is None or not handle.done.is_set():
            return
        exit_ = handle.exit
        if slot.probes is not None:
            slot.probes.stop()
            slot.probes = None
        slot.handle = None
        now = time.monotonic()
        if exit_.reason == "CreateContainerError":
            slot.next_index -= 1
            record.state = ContainerState(
                waiting=ContainerStateWaiting(reason="CreateContainerError", message=exit_.message)
            )
            slot.retry_at = slot.config_errors.next(now)
            self.ctx.recorder.warning(self._involved(slot), "Failed", f"Error: {exit_.message}")
            return
        message = exit_.message
        if exit_.reason == "StartError":
            self.ctx.recorder.warning(self._involved(slot), "Failed", f"Error: {message}")
        else:
            message = self._termination_message(pod, slot, handle, exit_.exit_code)
        terminated = ContainerState(
            terminated=ContainerStateTerminated(
                exit_code=exit_.exit_code,
                reason=exit_.reason,
                message=message,
                started_at=handle.started_at or exit_.finished_at,
                finished_at=exit_.finished_at,
                container_id=handle.container_id,
            )
        )
        record.state = terminated
        record.ready = False
        record.started = False
        slot.last_terminated = terminated
        slot.retry_at = slot.crash.next(now)
        slot.crash_wait = slot.retry_at - now

    def _termination_message(self, pod: Pod, slot: Slot, handle: Handle, code: int) -> str | None:
        container = slot.container
        message = ""
        if container.termination_message_path:
            try:
                with handle.config.termination_log.open("rb") as f:
                    message = f.read(MESSAGE_LIMIT).decode(errors="replace")
            except OSError:
                message = ""
        if (
            not message
            and container.termination_message_policy == "FallbackToLogsOnError"
            and code != 0
        ):
            message = logs.termination_fallback(handle.config.log_path)
        return message or None

    def _unhealthy(self, slot: Slot, kind: str, message: str) -> None:
        label = kind.capitalize()
        self.ctx.recorder.warning(
            self._involved(slot), "Unhealthy", f"{label} probe failed: {message}"
        )

    def _post_start(self, pod: Pod, slot: Slot) -> None:
        lifecycle = slot.container.lifecycle
        if lifecycle is None or lifecycle.post_start is None or slot.target is None:
            return
        result = probes.run(
            lifecycle.post_start, slot.target, pod.spec.termination_grace_period_seconds
        )
        if not result.success:
            self.ctx.recorder.warning(
                self._involved(slot),
                "FailedPostStartHook",
                f"PostStartHook failed: {result.message}",
            )
            self._kill(slot, pod.spec.termination_grace_period_seconds)

    # -- stopping -------------------------------------------------------------------------------

    def _kill(self, slot: Slot, grace: float) -> None:
        handle = slot.handle
        if handle is None:
            return
        started = time.monotonic()
        lifecycle = slot.container.lifecycle
        if (
            lifecycle is not None
            and lifecycle.pre_stop is not None
            and handle.running
            and slot.target
        ):
            result = probes.run(lifecycle.pre_stop, slot.target, max(grace, 1))
            if not result.success:
                self.ctx.recorder.warning(
                    self._involved(slot),
                    "FailedPreStopHook",
                    f"PreStopHook failed: {result.message}",
                )
        self.ctx.recorder.normal(self._involved(slot), "Killing", f"Stopping container {slot.name}")
        remaining = max(0.0, grace - (time.monotonic() - started))
        self.ctx.runtime.stop(handle, remaining)

    def _stop_all(self, pod: Pod, grace: float) -> None:
        """Stop every running container: regular ones together, then sidecars, last first."""
        regular = [s for s in self.slots.values() if s.active and not is_sidecar(s.container)]
        sidecars = [
            s for s in reversed(list(self.slots.values())) if s.active and is_sidecar(s.container)
        ]
        for group in (regular, sidecars):
            if not group:
                continue
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                list(pool.map(lambda s: self._kill(s, grace), group))
        for slot in self.slots.values():
            self._observe(pod, slot)
            slot.retry_at = float("inf")

    # -- status ---------------------------------------------------------------------------------

    def _report(self, pod: Pod, *, terminal: bool = False) -> PodStatus:
        reason = message = None
        if self.deadline_exceeded:
            terminal = True
            reason = "DeadlineExceeded"
            message = "Pod was active on the node longer than the specified deadline"
        ip = self.sandbox.ip if self.sandbox else pod.status.pod_ip
        observed = Observed(
            now=utc_now(),
            host_ip=self.ctx.node_ip,
            pod_ip=ip,
            start_time=self.start_time,
            sandbox_ready=self.sandbox is not None,
            terminal=terminal,
            reason=reason,
            message=message,
        )
        new = status.pod_status(pod, [s.record for s in self.slots.values()], observed)
        wire = new.wire()
        if wire != self._sent:
            try:
                self.ctx.api.patch_pod_status(pod, new)
                self._sent = wire
            except ApiError as err:
                if err.status == 404:
                    self.update(None)
                else:
                    log.warning("pod %s: status update: %s", pod.key, err)
        return new
