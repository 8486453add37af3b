"""The model registry's storage: entities, the store contract, an in-memory and a Kubernetes
implementation (issue 7)."""
