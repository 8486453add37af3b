"""The store contracts as test suites: ``tracking.StoreContract`` (store/tracking/base.py) and
``registry.RegistryContract`` (store/registry/base.py), search included.

These are helper modules, not test files: each store's test module subclasses a contract and
provides its fixtures, in the tier its store needs (tests/unit for the in-memory stores,
tests/integration for the Kubernetes stores on the local API server and MinIO); every store
implementation must pass its contract.
"""
