"""One container of a pod as the pod worker tracks it, and how its process is configured.

``configure`` turns a container spec into what the shim runs: the image's ENTRYPOINT/CMD combined
with command/args (``$(VAR)``-expanded), the environment (image ENV, then the kubelet's variables,
then ``HOSTNAME`` and ``HOME`` as a runtime adds them), the working directory, the user, and the
mounts (volumes with subPath, the pod's hosts/resolv.conf/hostname, the termination-message file).
"""

from __future__ import annotations

import pwd
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from e2e.cluster.agent import env, images
from e2e.cluster.agent.model import Container, ContainerState, Pod, SecurityContext
from e2e.cluster.agent.probes import Prober, Target
from e2e.cluster.agent.runtime import ContainerConfig, Handle, Mount
from e2e.cluster.agent.status import ContainerRecord


@dataclass
class Backoff:
    """The kubelet's restart back-off: 10 s doubling to 5 min; the first retry may be immediate;
    forgotten after 10 quiet minutes."""

    initial: float = 10.0
    cap: float = 300.0
    first_immediate: bool = True
    delay: float = 0.0
    last: float = 0.0

    def next(self, now: float) -> float:
        """Record a failure at ``now``; returns when the next attempt may happen."""
        if self.delay and now - self.last > 2 * self.cap:
            self.delay = 0.0
        if self.delay:
            wait = self.delay
            self.delay = min(self.delay * 2, self.cap)
        else:
            wait = 0.0 if self.first_immediate else self.initial
            self.delay = self.initial if self.first_immediate else min(self.initial * 2, self.cap)
        self.last = now
        return now + wait


class ContainerProbes:
    """The probes of one running container instance."""

    def __init__(
        self,
        container: Container,
        target: Target,
        on_change: Callable[[], None],
        on_failure: Callable[[str, str], None],
    ) -> None:
        self.startup = (
            Prober(
                "startup",
                container.startup_probe,
                target,
                on_change=on_change,
                on_failure=on_failure,
            )
            if container.startup_probe
            else None
        )
        gate = self.startup.succeeded if self.startup else None
        self.liveness = (
            Prober(
                "liveness",
                container.liveness_probe,
                target,
                on_change=on_change,
                on_failure=on_failure,
                gate=gate,
            )
            if container.liveness_probe
            else None
        )
        self.readiness = (
            Prober(
                "readiness",
                container.readiness_probe,
                target,
                on_change=on_change,
                on_failure=on_failure,
                gate=gate,
            )
            if container.readiness_probe
            else None
        )

    @property
    def started(self) -> bool:
        return self.startup is None or self.startup.state == "success"

    @property
    def ready(self) -> bool:
        return self.started and (self.readiness is None or self.readiness.state == "success")

    def failed(self) -> str | None:
        """ "liveness" or "startup" when that probe says the container must be restarted."""
        if self.startup is not None and self.startup.state == "failure":
            return "startup"
        if self.liveness is not None and self.liveness.state == "failure":
            return "liveness"
        return None

    def stop(self) -> None:
        for prober in (self.startup, self.liveness, self.readiness):
            if prober is not None:
                prober.stop()


@dataclass
class Slot:
    """A container of the pod: its spec, its reported record and its current instance."""

    container: Container
    init: bool
    record: ContainerRecord
    handle: Handle | None = None
    probes: ContainerProbes | None = None
    target: Target | None = None
    next_index: int = 0  # the restart count of the next instance (its log is <n>.log)
    last_terminated: ContainerState | None = None
    crash: Backoff = field(default_factory=Backoff)
    pull: Backoff = field(default_factory=lambda: Backoff(first_immediate=False))
    config_errors: Backoff = field(default_factory=lambda: Backoff(2.0, 10.0, False))
    retry_at: float = 0.0
    crash_wait: float = 0.0

    @property
    def name(self) -> str:
        return self.container.name

    @property
    def active(self) -> bool:
        """An instance exists (starting or running) and has not been reaped yet."""
        return self.handle is not None

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.running

    @property
    def exit_code(self) -> int | None:
        terminated = self.record.state.terminated
        return terminated.exit_code if terminated else None

    def should_restart(self, policy: str) -> bool:
        """After an exit: does the pod's (or a sidecar's own) restart policy restart it?"""
        last = self.last_terminated.terminated if self.last_terminated else None
        if last is None:
            return False
        if self.container.restart_policy == "Always" or policy == "Always":
            return True
        return policy == "OnFailure" and last.exit_code != 0


def _mount_target(path: str) -> str:
    pure = PurePosixPath(path)
    if not pure.is_absolute():
        raise env.ConfigError(f"mountPath {path!r} must be absolute")
    return str(pure)


def _sub_path(text: str) -> PurePosixPath:
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts:
        raise env.ConfigError(f"subPath {text!r} must be a relative path without '..'")
    return pure


@dataclass(frozen=True)
class PodFiles:
    """The per-pod files and directories a container mounts."""

    hosts: Path
    resolv: Path
    hostname: Path
    shm: Path
    volumes: dict[str, Path]


def configure(
    pod: Pod,
    container: Container,
    image: images.Image,
    sources: env.Sources,
    files: PodFiles,
    *,
    index: int,
    instance_dir: Path,
    log_path: Path,
    hostname: str,
) -> ContainerConfig:
    """Raises env.ConfigError when the container cannot be configured (yet)."""
    variables = env.container_env(pod, container, sources)
    process_env = {**image.env, **variables}
    process_env.setdefault("HOSTNAME", hostname)
    user = _user(pod, container)
    if "HOME" not in process_env:
        try:
            process_env["HOME"] = pwd.getpwuid(user[0] if user[0] is not None else 0).pw_dir
        except KeyError:
            process_env["HOME"] = "/"
    command = [env.expand(part, variables) for part in container.command]
    args = [env.expand(part, variables) for part in container.args]
    argv = images.argv(image, command, args)
    if not argv:
        raise env.ConfigError("no command specified")
    mounts: list[Mount] = []
    targets: set[str] = set()
    for mount in container.volume_mounts:
        source = files.volumes.get(mount.name)
        if source is None:
            raise env.ConfigError(
                f"cannot find volume {mount.name!r} to mount into container {container.name!r}"
            )
        sub = mount.sub_path or (
            env.expand(mount.sub_path_expr, variables) if mount.sub_path_expr else ""
        )
        if sub:
            source = source / _sub_path(sub)
            if not source.exists():
                source.mkdir(parents=True)
        target = _mount_target(mount.mount_path)
        targets.add(target)
        mounts.append(Mount(source, target, mount.read_only))
    for path, program in image.files.items():
        mounts.append(Mount(program, path, read_only=True))
    for path, source in (
        ("/etc/hosts", files.hosts),
        ("/etc/resolv.conf", files.resolv),
        ("/etc/hostname", files.hostname),
    ):
        if path not in targets:
            mounts.append(Mount(source, path, read_only=False))
    if container.termination_message_path:
        mounts.append(
            Mount(
                instance_dir / "termination-log", _mount_target(container.termination_message_path)
            )
        )
    return ContainerConfig(
        pod_uid=pod.metadata.uid,
        name=container.name,
        argv=argv,
        env=process_env,
        working_dir=container.working_dir or image.working_dir,
        hostname=hostname,
        mounts=mounts,
        log_path=log_path,
        instance_dir=instance_dir,
        shm_dir=files.shm,
        uid=user[0],
        gid=user[1],
        traversable=tuple(image.env.get("PATH", "").split(":")[:1]),
    )


def _user(pod: Pod, container: Container) -> tuple[int | None, int | None]:
    """(uid, gid) from the container's, else the pod's, securityContext; images run as root."""
    pod_ctx = pod.spec.security_context or SecurityContext()
    ctx = container.security_context or SecurityContext()
    uid = ctx.run_as_user if ctx.run_as_user is not None else pod_ctx.run_as_user
    gid = ctx.run_as_group if ctx.run_as_group is not None else pod_ctx.run_as_group
    non_root = ctx.run_as_non_root if ctx.run_as_non_root is not None else pod_ctx.run_as_non_root
    if non_root and not uid:
        raise env.ConfigError(
            "container has runAsNonRoot and image will run as root "
            f"(pod: {pod.metadata.name!r}, container: {container.name})"
        )
    return uid, gid
