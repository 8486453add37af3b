"""mlkube: the machine-learning lifecycle platform of MLflow, native to Kubernetes."""

__version__ = "0.1.0"
