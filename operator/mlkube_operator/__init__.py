"""The mlkube control plane: the Kopf operator and the tracking server."""
