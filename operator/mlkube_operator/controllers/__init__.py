"""One module per kind; importing this package registers every controller's Kopf handlers
(and the indexes they read, controllers/indexes.py)."""

from mlkube_operator.controllers import (
    experiment,
    indexes,
    model_deployment,
    model_version,
    run,
    sweep,
)

__all__ = ["experiment", "indexes", "model_deployment", "model_version", "run", "sweep"]
