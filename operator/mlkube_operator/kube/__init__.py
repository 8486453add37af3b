"""The operator's Kubernetes adapter: `client.py` is the only operator module that imports the
client library.

``KubeClient`` does create/get/list/patch/watch of any mlkube kind (and the ConfigMaps the
tracking server keeps counters in) and manages the operator's Jobs, Pods, Secrets and serving
objects, returning plain dicts and raising typed errors; ``Informer``
keeps a handler fed with list+watch. Parsing into the resource models is the caller's job.
"""

from mlkube_operator.kube.client import KubeClient
from mlkube_operator.kube.errors import AlreadyExists, Conflict, Gone, Invalid, KubeError, NotFound
from mlkube_operator.kube.informer import Informer, InformerHandler

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Gone",
    "Informer",
    "InformerHandler",
    "Invalid",
    "KubeClient",
    "KubeError",
    "NotFound",
]
