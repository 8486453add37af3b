"""API server errors as MLflow errors, for both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlkube_operator.kube import AlreadyExists, KubeError, NotFound
from mlkube_operator.kube.errors import Invalid
from mlkube_operator.server.errors import ErrorCode, MlflowError, invalid


def unavailable(err: Exception) -> MlflowError:
    """The MLflow error for a backend failure: the API server refusing the object as invalid is
    the request's fault (400); anything else is worth a retry (503)."""
    if isinstance(err, Invalid):
        return invalid(f"rejected by the cluster: {err.message}")
    return MlflowError(
        ErrorCode.TEMPORARILY_UNAVAILABLE, f"the cluster or object storage failed: {err}; retry"
    )


@contextmanager
def answering(what: str, gone: Callable[[], Exception]) -> Iterator[None]:
    """API server errors as MLflow's: a vanished object is ``gone()``, a refused one (422) an
    invalid parameter, anything else temporarily unavailable. AlreadyExists is left to the
    caller, which knows what to do about it."""
    try:
        yield
    except AlreadyExists:
        raise
    except NotFound:
        raise gone() from None
    except Invalid as err:
        raise invalid(f"{what}: {err.message}") from None
    except KubeError as err:
        raise unavailable(err) from None
