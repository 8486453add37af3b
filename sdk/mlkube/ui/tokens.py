"""Where the forwarder's bearer token comes from: the ``Credentials`` it asks on every request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mlkube.auth import CredentialError, bearer_token


class Credentials(Protocol):
    what: str  # whose token, for messages: "MLFLOW_TRACKING_TOKEN", "user U of context C"

    def token(self) -> str:
        """The token for the next request; CredentialError when there is none."""

    def refused(self) -> None:
        """The tracking server answered 401 to the last token (it may have expired)."""


class EnvToken:
    """The token ``mlkube.auth.bearer_token`` finds in ``env`` (MLFLOW_TRACKING_TOKEN, or the file
    MLKUBE_TOKEN_FILE names, read anew each time: whoever writes it may refresh it)."""

    def __init__(self, env: Mapping[str, str], what: str) -> None:
        self.env = dict(env)
        self.what = what

    def token(self) -> str:
        found = bearer_token(self.env)
        if not found:
            raise CredentialError(f"{self.what} holds no token")
        return found

    def refused(self) -> None:
        """Nothing to do: the next request reads the token again."""
