"""Typed errors for the API server's answers, so callers never see the client library's types."""

from __future__ import annotations


class KubeError(Exception):
    """The API server refused a request or could not be reached."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(KubeError):
    """404: the object (or its namespace) does not exist."""


class Conflict(KubeError):
    """409 on an update: the object changed since it was read (resourceVersion mismatch)."""


class AlreadyExists(KubeError):
    """409 on a create: an object of that name exists."""


class Gone(KubeError):
    """410: a watch's resourceVersion is too old; list again."""


class Invalid(KubeError):
    """422: the object fails the CRD's schema or a validation rule."""
