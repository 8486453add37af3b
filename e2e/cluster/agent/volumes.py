"""Pod volumes as directories of the agent's state, later bind-mounted by the shim.

``emptyDir`` is a directory shared by the pod's containers and removed with the pod; ``hostPath``
is the host's path itself; ``secret``, ``configMap``, ``downwardAPI`` and ``projected`` volumes are
written with the atomic writer and refreshed on every pod sync, so updates reach running pods as on
a kubelet. A projected ``serviceAccountToken`` is a real token from the TokenRequest API, bound to
the pod, renewed once 80% of its lifetime has passed (or after 24 hours). The ServiceAccount
admission plugin gives every pod the projected ``kube-api-access-*`` volume: token, ``ca.crt``
from the ``kube-root-ca.crt`` ConfigMap and ``namespace``, mounted at
``/var/run/secrets/kubernetes.io/serviceaccount``.

Other volume types (persistentVolumeClaim, ...) fail the pod's setup with a FailedMount message.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from e2e.cluster.agent import atomic_writer, env
from e2e.cluster.agent.api import Api, Token
from e2e.cluster.agent.atomic_writer import File
from e2e.cluster.agent.kube import ApiError
from e2e.cluster.agent.model import (
    ConfigMap,
    DownwardAPIVolumeFile,
    KeyToPath,
    Pod,
    Secret,
    Volume,
)

log = logging.getLogger(__name__)
DEFAULT_MODE = 0o644


class VolumeError(Exception):
    """A volume cannot be set up (yet); the message is the kubelet's FailedMount text."""


@dataclass(frozen=True)
class _TokenKey:
    pod_uid: str
    audience: str
    expiration: int


@dataclass(frozen=True)
class _Issued:
    token: Token
    at: float


class Volumes:
    def __init__(self, api: Api, allocatable: Callable[[], Mapping[str, str]]) -> None:
        self.api = api
        self.allocatable = allocatable
        self._tokens: dict[_TokenKey, _Issued] = {}
        self._lock = threading.Lock()

    def setup(self, pod: Pod, volumes_dir: Path) -> dict[str, Path]:
        """Create or refresh every volume of ``pod``; volume name -> host directory."""
        paths: dict[str, Path] = {}
        for volume in pod.spec.volumes:
            try:
                paths[volume.name] = self._one(pod, volume, volumes_dir / volume.name)
            except (
                VolumeError,
                ApiError,
                atomic_writer.PayloadError,
                env.ConfigError,
                OSError,
            ) as err:
                raise VolumeError(
                    f'MountVolume.SetUp failed for volume "{volume.name}" : {err}'
                ) from err
        return paths

    def forget(self, pod_uid: str) -> None:
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if k.pod_uid != pod_uid}

    def _one(self, pod: Pod, volume: Volume, path: Path) -> Path:
        if volume.empty_dir is not None:
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)
            return path
        if volume.host_path is not None:
            return self._host_path(volume.host_path.path, volume.host_path.type)
        payload: dict[str, File]
        if volume.secret is not None:
            source = volume.secret
            secret = self._secret(pod, source.secret_name, source.optional)
            mode = source.default_mode or DEFAULT_MODE
            payload = _keyed(_secret_values(secret), source.items, mode, "secret", source.optional)
        elif volume.config_map is not None:
            cm_source = volume.config_map
            config_map = self._config_map(pod, cm_source.name, cm_source.optional)
            mode = cm_source.default_mode or DEFAULT_MODE
            payload = _keyed(
                _config_map_values(config_map),
                cm_source.items,
                mode,
                "configmap",
                cm_source.optional,
            )
        elif volume.downward_api is not None:
            mode = volume.downward_api.default_mode or DEFAULT_MODE
            payload = self._downward(pod, volume.downward_api.items, mode)
        elif volume.projected is not None:
            payload = self._projected(pod, volume)
        else:
            raise VolumeError(
                "volume type not supported by the mlkube node agent (supported: emptyDir, "
                "hostPath, secret, configMap, downwardAPI, projected)"
            )
        atomic_writer.write(path, payload)
        return path

    @staticmethod
    def _host_path(path: str, kind: str) -> Path:
        host = Path(path)
        if kind == "DirectoryOrCreate":
            host.mkdir(parents=True, exist_ok=True)
        elif kind == "FileOrCreate" and not host.exists():
            host.parent.mkdir(parents=True, exist_ok=True)
            host.touch()
        elif kind == "Directory" and not host.is_dir():
            raise VolumeError(f"hostPath type check failed: {path} is not a directory")
        elif kind == "File" and not host.is_file():
            raise VolumeError(f"hostPath type check failed: {path} is not a file")
        return host

    def _secret(self, pod: Pod, name: str, optional: bool | None) -> Secret | None:
        secret = self.api.secret(pod.metadata.namespace, name)
        if secret is None and not optional:
            raise VolumeError(f'secret "{name}" not found')
        return secret

    def _config_map(self, pod: Pod, name: str, optional: bool | None) -> ConfigMap | None:
        config_map = self.api.config_map(pod.metadata.namespace, name)
        if config_map is None and not optional:
            raise VolumeError(f'configmap "{name}" not found')
        return config_map

    def _downward(self, pod: Pod, items: list[DownwardAPIVolumeFile], mode: int) -> dict[str, File]:
        payload = {}
        for item in items:
            if item.field_ref is not None:
                value = env.field_value(pod, item.field_ref)
            elif item.resource_field_ref is not None:
                value = env.resource_value(pod, None, item.resource_field_ref, self.allocatable())
            else:
                continue
            payload[item.path] = File(value.encode(), item.mode or mode)
        return payload

    def _projected(self, pod: Pod, volume: Volume) -> dict[str, File]:
        assert volume.projected is not None
        mode = volume.projected.default_mode or DEFAULT_MODE
        payload: dict[str, File] = {}
        for source in volume.projected.sources:
            if source.service_account_token is not None:
                sat = source.service_account_token
                token = self._token(pod, sat.audience or "", sat.expiration_seconds)
                payload[sat.path] = File(token.token.encode(), mode)
            elif source.config_map is not None:
                ref = source.config_map
                config_map = self._config_map(pod, ref.name, ref.optional)
                payload.update(
                    _keyed(
                        _config_map_values(config_map), ref.items, mode, "configmap", ref.optional
                    )
                )
            elif source.secret is not None:
                ref = source.secret
                secret = self._secret(pod, ref.name, ref.optional)
                payload.update(
                    _keyed(_secret_values(secret), ref.items, mode, "secret", ref.optional)
                )
            elif source.downward_api is not None:
                payload.update(self._downward(pod, source.downward_api.items, mode))
        return payload

    def _token(self, pod: Pod, audience: str, expiration: int) -> Token:
        key = _TokenKey(pod.metadata.uid, audience, expiration)
        now = time.time()
        with self._lock:
            issued = self._tokens.get(key)
        if issued is not None:
            lifetime = issued.token.expires_at - issued.at
            if now < issued.at + 0.8 * lifetime and now < issued.at + 24 * 3600:
                return issued.token
        token = self.api.token(pod, audience or None, expiration)
        with self._lock:
            self._tokens[key] = _Issued(token, now)
        return token


def _secret_values(secret: Secret | None) -> dict[str, bytes]:
    if secret is None:
        return {}
    return {k: base64.b64decode(v) for k, v in secret.data.items()}


def _config_map_values(config_map: ConfigMap | None) -> dict[str, bytes]:
    if config_map is None:
        return {}
    values = {k: v.encode() for k, v in config_map.data.items()}
    values.update({k: base64.b64decode(v) for k, v in config_map.binary_data.items()})
    return values


def _keyed(
    values: dict[str, bytes], items: list[KeyToPath], mode: int, kind: str, optional: bool | None
) -> dict[str, File]:
    """The files of a secret or configMap source: every key, or the listed ``items``."""
    if not items:
        return {key: File(value, mode) for key, value in values.items()}
    payload = {}
    for item in items:
        if item.key not in values:
            if optional:
                continue
            raise VolumeError(f"{kind} references non-existent config key: {item.key}")
        payload[item.path] = File(values[item.key], item.mode or mode)
    return payload
