"""The server's storage, in MLflow's shape: ``tracking/`` (experiments, runs, logged models) and
``registry/`` (registered models, versions) side by side, each one interface with an in-memory and
a Kubernetes implementation, both Kubernetes stores built on ``shared/`` (the watch-fed cache,
informer lifecycle, clock, error mapping, resource naming)."""
