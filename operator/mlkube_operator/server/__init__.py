"""The tracking server: MLflow's REST API on top of Experiment and Run resources and object storage.

Layout: ``entities`` (the common currency), ``store/`` (the TrackingStore interface and its
implementations), ``search/`` (MLflow's search grammar, evaluated over entities), ``artifacts/``
(object keys; the object store itself is ``mlkube.objects``), ``http/`` (thin Starlette
handlers), ``main`` (`mlkube-server`, also run as `mlkube server`).
"""
