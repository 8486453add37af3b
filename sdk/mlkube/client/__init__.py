"""Kubernetes access for the SDK and CLI: the only SDK package that imports the client library."""

from mlkube.client.resources import ClientError, Resources

__all__ = ["ClientError", "Resources"]
