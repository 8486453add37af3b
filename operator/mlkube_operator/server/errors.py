"""MLflow's error vocabulary: an error code, its HTTP status and a message users can act on."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
    BAD_REQUEST = "BAD_REQUEST"
    RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
    RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
    ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
    INVALID_STATE = "INVALID_STATE"
    RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
    REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"


# MLflow answers 400 for "already exists" and for an invalid state, not 409 (see
# shared/MLFLOW-PROTOCOL.md); RESOURCE_CONFLICT is the only 409.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_PARAMETER_VALUE: 400,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.RESOURCE_ALREADY_EXISTS: 400,
    ErrorCode.INVALID_STATE: 400,
    ErrorCode.RESOURCE_DOES_NOT_EXIST: 404,
    ErrorCode.ENDPOINT_NOT_FOUND: 404,
    ErrorCode.RESOURCE_CONFLICT: 409,
    ErrorCode.REQUEST_LIMIT_EXCEEDED: 429,
    ErrorCode.RESOURCE_EXHAUSTED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.TEMPORARILY_UNAVAILABLE: 503,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
}


class MlflowError(Exception):
    """An error the API reports as ``{"error_code", "message"}`` with the matching HTTP status,
    or with ``status`` where HTTP has a more precise one than MLflow's code (413 for a body past
    the limit, 408 for one that stopped arriving)."""

    def __init__(self, code: ErrorCode, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status or HTTP_STATUS[self.code]

    def to_json(self) -> dict[str, str]:
        return {"error_code": self.code.value, "message": self.message}


def invalid(message: str) -> MlflowError:
    return MlflowError(ErrorCode.INVALID_PARAMETER_VALUE, message)


def not_found(message: str) -> MlflowError:
    return MlflowError(ErrorCode.RESOURCE_DOES_NOT_EXIST, message)


def already_exists(message: str) -> MlflowError:
    return MlflowError(ErrorCode.RESOURCE_ALREADY_EXISTS, message)
