"""`mlkube-operator`: the Kopf entry point that runs every mlkube controller."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import kopf

from mlkube_operator.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    del argv  # every setting comes from the environment (see settings.py)
    settings = Settings.from_env(os.environ)
    import mlkube_operator.controllers  # noqa: F401  (registers the handlers)

    kopf.run(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=settings.liveness_endpoint,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
