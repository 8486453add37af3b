"""``mlkube serve``: arguments, fetching the model, and starting the server.

Importing this module is cheap (the CLI builds its parser from it); the server's dependencies
load in ``run``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="a model directory, s3://bucket/prefix, mlflow-artifacts:/<path> (through the "
        "tracking server), models:/<name>/<version> or models:/<name>@<alias>",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", "-p", type=int, default=8080, help="port to listen on")
    parser.add_argument("--workers", "-w", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds a prediction may take before the answer is 504 (default 60)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=64 * 1024 * 1024,
        help="largest request body; larger ones are refused with 413 (default 64 MiB)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=8,
        help="requests scored at once per worker; more get 503 with Retry-After (default 8)",
    )
    parser.add_argument(
        "--shutdown-delay",
        type=float,
        default=0.0,
        help="on SIGTERM, seconds to keep scoring while /health answers 503 (default 0)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        help="seconds to finish in-flight requests once stopping (default 30)",
    )
    parser.add_argument(
        "--model-cache",
        type=Path,
        default=None,
        help="where a remote model is downloaded (default: a new temporary directory)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Fetch the model and serve it until SIGTERM; the exit status."""
    from mlkube.models.errors import ModelError
    from mlkube.serving.server import ServeOptions, serve
    from mlkube.serving.source import SourceError, fetch_model

    logging.basicConfig(level=str(args.log_level).upper(), format="%(levelname)s %(message)s")
    for flag in ("workers", "max_body_bytes", "max_in_flight"):
        if getattr(args, flag) < 1:
            print(f"mlkube serve: --{flag.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    if not 0 <= args.port <= 65535:
        print("mlkube serve: --port must be in 0..65535", file=sys.stderr)
        return 2
    if min(args.timeout, args.shutdown_delay, args.graceful_timeout) < 0:
        print("mlkube serve: durations must not be negative", file=sys.stderr)
        return 2
    cache = args.model_cache or Path(tempfile.mkdtemp(prefix="mlkube-model-"))
    try:
        model_dir = fetch_model(args.model, cache, env)
    except SourceError as err:
        print(f"mlkube serve: {err}", file=sys.stderr)
        return 1
    options = ServeOptions(
        model_dir=model_dir,
        host=args.host,
        port=args.port,
        workers=args.workers,
        timeout=args.timeout,
        shutdown_delay=args.shutdown_delay,
        graceful_timeout=args.graceful_timeout,
        max_body_bytes=args.max_body_bytes,
        max_in_flight=args.max_in_flight,
        log_level=str(args.log_level).lower(),
    )
    try:
        return serve(options)
    except ModelError as err:
        print(f"mlkube serve: cannot load the model in {model_dir}: {err}", file=sys.stderr)
        return 1
