"""The scoring server's error: an HTTP status and MLflow's ``{"error_code", "message"}``."""

from __future__ import annotations


class HttpError(Exception):
    def __init__(
        self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}
