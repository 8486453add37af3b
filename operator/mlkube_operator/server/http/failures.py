"""What an exception becomes in MLflow's error vocabulary, for every endpoint (app.py) and every
GraphQL field (graphql_fields.py): nothing a client sends can produce a 500 except a fault of the
server or its backends."""

from __future__ import annotations

import logging

from mlkube.layout import LayoutError
from mlkube_operator.kube import KubeError
from mlkube_operator.server.errors import ErrorCode, MlflowError, invalid

log = logging.getLogger("mlkube.server")


def failure_of(err: Exception, where: str) -> MlflowError:
    """``err``, raised while serving ``where``, as the MlflowError to answer; call it from an
    ``except`` block (an internal error is logged with its traceback)."""
    if isinstance(err, MlflowError):
        return err
    if isinstance(err, LayoutError):  # an id or path in the request that no key can hold
        return invalid(str(err))
    if isinstance(err, OSError | KubeError):
        # A backend (object storage, the API server) failed: the client may retry.
        log.warning("%s: backend failure: %s", where, err)
        return MlflowError(ErrorCode.TEMPORARILY_UNAVAILABLE, f"a backend failed: {err}; retry")
    log.exception("internal error serving %s", where)
    return MlflowError(ErrorCode.INTERNAL_ERROR, "internal error; see the server's log")
