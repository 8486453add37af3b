"""What can go wrong when the SDK talks to a cluster, as typed errors with one-line messages.

Each message names the resource and the reason and ends with what to do, so the CLI prints it as
it is (``error: <message>``) and a notebook shows something a user can act on instead of an
``ApiException`` dump. ``status`` is the API server's HTTP status where there was one.
"""

from __future__ import annotations


class MlkubeError(Exception):
    """Base of the SDK's errors; ``str(err)`` is one line saying what happened and what to do."""

    status: int | None = None

    def __init__(self, message: str) -> None:
        # One line, whatever the server sent: the CLI prints errors as single lines.
        super().__init__(" ".join(message.split()))


class ConfigError(MlkubeError):
    """No usable Kubernetes configuration (kubeconfig, context) or tracking server address."""


class Unreachable(MlkubeError):
    """The API server (or the tracking server) did not answer."""


class Unauthorized(MlkubeError):
    """The server did not accept the credentials (401)."""

    status = 401


class Forbidden(MlkubeError):
    """RBAC refused the request (403)."""

    status = 403


class NotFound(MlkubeError):
    """The object does not exist (404)."""

    status = 404

    def __init__(
        self, message: str, *, kind: str = "", name: str = "", namespace: str = ""
    ) -> None:
        super().__init__(message)
        self.kind, self.name, self.namespace = kind, name, namespace


class AlreadyExists(MlkubeError):
    """An object of that name exists (409 AlreadyExists)."""

    status = 409


class Conflict(MlkubeError):
    """The object changed since it was read (409 Conflict); read it again and retry."""

    status = 409


class Invalid(MlkubeError):
    """The API server (schema, CEL rules) or the SDK's model refused the object (422)."""

    status = 422


class ApiError(MlkubeError):
    """Any other refusal; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BadReference(MlkubeError, ValueError):
    """A model, run or deployment reference of the wrong form (nothing was sent)."""


class WaitTimeout(MlkubeError, TimeoutError):
    """A wait ran out of time; the message says what was awaited and what was seen last."""


class Failed(MlkubeError):
    """A resource ended in a failed phase (a version's registration, a deployment) where
    success was awaited; the message carries its status message."""


class TrackingError(MlkubeError):
    """The tracking server refused or could not store a project archive."""


class ServingError(MlkubeError):
    """The model's scoring server answered a prediction with an error."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
