"""The scoring server run by model pods: ``mlkube serve MODEL`` (MLflow's scoring protocol).

Needs the ``serve`` extra (starlette's ASGI stack via uvicorn, numpy, pandas, scikit-learn,
orjson, prometheus-client).
"""
