"""`mlkube-server`: build the stores from the settings and serve the API with uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import uvicorn

from mlkube import __version__
from mlkube.objects import MemoryObjects, ObjectStore
from mlkube.objects.s3 import S3Objects
from mlkube.sources import SourceRule
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.settings import Backend, ServerSettings
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
    store = KubeStore(client, objects, settings.id_namespace or settings.namespace)
    store.start()
    return store


def registry_store(settings: ServerSettings) -> RegistryStore:
    """The model registry (issue 7): RegisteredModel and ModelVersion resources."""
    if settings.backend is Backend.MEMORY:
        return InMemoryRegistryStore()
    from mlkube_operator.kube import KubeClient
    from mlkube_operator.server.store.registry.kube.store import KubeRegistryStore

    registry = KubeRegistryStore(KubeClient.from_config(settings.kubeconfig))
    registry.start()
    return registry


def main(argv: Sequence[str] | None = None) -> int:
    settings = ServerSettings.parse(sys.argv[1:] if argv is None else argv, os.environ)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        allowlist = SourceRule.of(settings.s3_bucket, settings.registry_source_allowlist).allowlist
    except ValueError as err:
        raise SystemExit(f"mlkube-server: {err}") from None
    objects = object_store(settings)
    store = tracking_store(settings, objects)
    registry = registry_store(settings)
    services = Services(store, objects, settings.namespace, __version__, allowlist)
    app = build_app(services, registry)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
        access_log=False,
    )
    server = uvicorn.Server(config)
    log.info(
        "serving MLflow's tracking API on http://%s:%d (backend %s, default workspace %s)",
        settings.host,
        settings.port,
        settings.backend.value,
        settings.namespace,
    )
    try:
        server.run()
    finally:
        registry.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
