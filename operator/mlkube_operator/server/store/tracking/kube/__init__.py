"""The Kubernetes + object storage tracking store (see store.py for the design)."""
