"""``mlkube ui``: MLflow's web UI of a tracking server, in a browser on this machine, signed in as
the kubeconfig's user through a local forwarder (forwarder.py; the threat model is in gate.py and
docs/security.md)."""
