"""One module per kind; importing this package registers every controller's Kopf handlers."""

from mlkube_operator.controllers import experiment, model_deployment, model_version, run

__all__ = ["experiment", "model_deployment", "model_version", "run"]
