"""`mlkube-server`: build the stores from the settings and serve the API with uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from prometheus_client import start_http_server

from mlkube import __version__
from mlkube.objects import MemoryObjects, ObjectStore
from mlkube.objects.s3 import S3Objects
from mlkube.sources import SourceRule
from mlkube_operator.server.auth.guard import Guard, KubernetesGuard, SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.http.head_deadline import bounded_protocol
from mlkube_operator.server.http.part_urls import PartSigner
from mlkube_operator.server.http.ui import installed_bundle, is_bundle
from mlkube_operator.server.settings import AuthMode, Backend, ServerSettings
from mlkube_operator.server.store.registry.base import RegistryStore
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore
from mlkube_operator.server.store.tracking.base import TrackingStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore

log = logging.getLogger("mlkube.server")


def object_store(settings: ServerSettings) -> ObjectStore:
    if not settings.s3_endpoint:
        if settings.backend is Backend.KUBERNETES:
            raise SystemExit(
                "mlkube-server: set MLKUBE_S3_ENDPOINT, MLKUBE_S3_ACCESS_KEY and "
                "MLKUBE_S3_SECRET_KEY (artifacts and metric histories live in object storage)"
            )
        return MemoryObjects()
    objects = S3Objects(
        settings.s3_endpoint,
        settings.s3_access_key or "",
        settings.s3_secret_key or "",
        settings.s3_bucket,
    )
    objects.ensure_bucket()
    return objects


def tracking_store(settings: ServerSettings, objects: ObjectStore) -> TrackingStore:
    if settings.backend is Backend.MEMORY:
        return InMemoryStore()
    # Imported here: the memory backend needs no Kubernetes client at all.
    from mlkube_operator.kube import KubeClient
    from mlkube_operator.server.store.tracking.kube.store import KubeStore

    client = KubeClient.from_config(settings.kubeconfig)
    id_namespace = settings.id_namespace or settings.namespace
    store = KubeStore(client, objects, id_namespace, settings.watch_namespaces)
    store.start()
    return store


def registry_store(settings: ServerSettings) -> RegistryStore:
    """The model registry (issue 7): RegisteredModel and ModelVersion resources."""
    if settings.backend is Backend.MEMORY:
        return InMemoryRegistryStore()
    from mlkube_operator.kube import KubeClient
    from mlkube_operator.server.store.registry.kube.store import KubeRegistryStore

    client = KubeClient.from_config(settings.kubeconfig)
    registry = KubeRegistryStore(client, settings.watch_namespaces)
    registry.start()
    return registry


def guard(settings: ServerSettings) -> Guard:
    """Who may do what: Kubernetes decides, unless single-user mode was asked for by name."""
    if settings.auth is AuthMode.NONE:
        log.warning(
            "authentication is OFF (--auth none, single-user mode): anyone who reaches this "
            "server reads and changes every workspace; use it only where you are the one user"
        )
        if settings.watch_namespaces:
            return SingleUser(lambda: settings.watch_namespaces)
        if settings.backend is Backend.MEMORY:
            return SingleUser(lambda: [settings.namespace])
        from mlkube_operator.kube import KubeClient

        kube = KubeClient.from_config(settings.kubeconfig)
        return SingleUser(lambda: [ns["metadata"]["name"] for ns in kube.list_namespaces()])
    if settings.backend is Backend.MEMORY:
        raise SystemExit(
            "mlkube-server: the memory backend has no cluster to authenticate callers with; "
            "add --auth none (single-user mode, no authentication) or use --backend kubernetes"
        )
    from mlkube_operator.kube import KubeClient

    return KubernetesGuard(
        KubeClient.from_config(settings.kubeconfig),
        settings.token_audiences,
        namespaces=settings.watch_namespaces,
        accept_api_tokens=settings.accept_api_tokens,
    )


def ui_bundle(settings: ServerSettings) -> Path | None:
    """The UI bundle to serve: only the one the settings name (an error when it is not one).

    Not the installed mlflow's, found by itself: the UI must be the one of the MLflow version whose
    API this server answers (the image's, from the pinned wheel), and a server should not start
    answering public pages because of what happens to be installed beside it. It is named in the
    log instead, for a developer who has one.
    """
    if settings.ui_dir is not None:
        if not is_bundle(settings.ui_dir):
            raise SystemExit(
                f"mlkube-server: --ui-dir / MLKUBE_UI_DIR {str(settings.ui_dir)!r} holds no "
                "index.html; name MLflow's UI bundle (mlflow/server/js/build of the mlflow wheel)"
            )
        return settings.ui_dir
    found = installed_bundle()
    if found is not None:
        log.info("serving no web UI; the installed mlflow has one: add --ui-dir %s", found)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    settings = ServerSettings.parse(sys.argv[1:] if argv is None else argv, os.environ)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        allowlist = SourceRule.of(settings.s3_bucket, settings.registry_source_allowlist).allowlist
    except ValueError as err:
        raise SystemExit(f"mlkube-server: {err}") from None
    ui_dir = ui_bundle(settings)
    door = guard(settings)
    objects = object_store(settings)
    store = tracking_store(settings, objects)
    registry = registry_store(settings)
    services = Services(
        store,
        objects,
        settings.namespace,
        __version__,
        door,
        bounds=settings.bounds,
        source_allowlist=allowlist,
        part_signer=(
            PartSigner.from_secret(settings.s3_secret_key)
            if settings.s3_secret_key
            else PartSigner()
        ),
        served=settings.served,
    )
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.host)
    app = build_app(services, registry, ui_dir=ui_dir)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
        http=bounded_protocol(settings.bounds),
        access_log=False,
    )
    server = uvicorn.Server(config)
    log.info(
        "serving MLflow's tracking API on http://%s:%d (backend %s, default workspace %s, "
        "workspaces %s, auth %s, web UI %s)",
        settings.host,
        settings.port,
        settings.backend.value,
        settings.namespace,
        ", ".join(settings.watch_namespaces) or "every namespace",
        settings.auth.value,
        ui_dir or "off",
    )
    try:
        server.run()
    finally:
        registry.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
