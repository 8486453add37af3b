"""``mlkube ui``: where the tracking server is, whose token to send, then the forwarder till Ctrl-C.

The tracking server is the one an ``mlflow`` client of the same shell would use: ``--url``, else
``MLFLOW_TRACKING_URI`` when set and neither ``--namespace`` nor ``--service`` is given, else the
release's Service through a port-forward (client/forward.py). The token is likewise
``--token-file``, else ``MLFLOW_TRACKING_TOKEN`` (as every mlkube client), else the kubeconfig
user's (client/credentials.py). Importing this module is cheap: the CLI builds its parser from it.
"""

from __future__ import annotations

import argparse
import http.client
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlkube.auth import TOKEN_FILE_ENV, CredentialError, bearer_token

if TYPE_CHECKING:
    from mlkube.ui.forwarder import Upstream
    from mlkube.ui.tokens import Credentials

RELEASE_NAMESPACE = "mlkube-system"
SERVICE = "mlkube-server"
PROBE_TIMEOUT = 15.0
TOKEN_HELP = (
    "pass --token-file FILE holding a token the cluster accepts (e.g. written by "
    "`kubectl create token <serviceaccount> -n <namespace>`), or set MLFLOW_TRACKING_TOKEN"
)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--namespace",
        "-n",
        help=f"the release's namespace, to port-forward to its server ({RELEASE_NAMESPACE})",
    )
    parser.add_argument("--service", help=f"the tracking server's Service ({SERVICE})")
    parser.add_argument(
        "--url",
        help="the tracking server's URL, reached directly (default: MLFLOW_TRACKING_URI when set "
        "and no --namespace or --service is given; else a port-forward)",
    )
    parser.add_argument("--context", help="the kubeconfig context (default: the current one)")
    parser.add_argument(
        "--port", type=int, default=0, help="the local port on 127.0.0.1 (default: any free one)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the sign-in link, do not open it"
    )
    parser.add_argument(
        "--token-file",
        help="a file holding the bearer token to send (read on every request), in place of "
        "MLFLOW_TRACKING_TOKEN or the kubeconfig user's",
    )
    return parser


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Serve the UI until Ctrl-C; the exit status (2: nothing to sign in with, or to reach)."""
    import logging
    import webbrowser

    from mlkube.ui.forwarder import Forwarder

    logging.basicConfig(level=logging.WARNING, format="mlkube ui: %(message)s")

    if not 0 <= args.port <= 65535:
        return _fail("--port must be in 0..65535")
    try:
        credentials = _credentials(args, env)
        credentials.token()
    except CredentialError as err:
        return _fail(f"{err}; {TOKEN_HELP}")
    try:
        upstream, where = _upstream(args, env)
    except (ValueError, RuntimeError) as err:  # a bad URL; no Service, pod or right to forward
        return _fail(str(err))
    problem = _probe(upstream)
    if problem:
        return _fail(f"cannot reach the tracking server ({where}): {problem}")
    try:
        forwarder = Forwarder(upstream, credentials, args.port)
    except OSError as err:
        return _fail(f"cannot listen on 127.0.0.1:{args.port}: {err}")
    url = forwarder.sign_in_url
    print(f"mlkube ui: MLflow's UI of {where}, signed in with {credentials.what}", flush=True)
    print(f"mlkube ui: {url}", flush=True)
    print("mlkube ui: the link signs in one browser, once; Ctrl-C stops", flush=True)
    if not args.no_browser:
        if _has_display(env):
            webbrowser.open(url)
        else:
            print("mlkube ui: no display here; open the link in a browser on this machine")
    try:
        forwarder.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        forwarder.server_close()
    print("mlkube ui: stopped", flush=True)
    return 0


def _fail(message: str) -> int:
    print(f"mlkube ui: {message}", file=sys.stderr)
    return 2


def _credentials(args: argparse.Namespace, env: Mapping[str, str]) -> Credentials:
    from mlkube.ui.tokens import EnvToken

    if args.token_file:
        return EnvToken({TOKEN_FILE_ENV: args.token_file}, f"the token in {args.token_file}")
    if bearer_token(env):
        named = "MLFLOW_TRACKING_TOKEN" if env.get("MLFLOW_TRACKING_TOKEN") else TOKEN_FILE_ENV
        return EnvToken(env, named)
    from mlkube.client.credentials import KubeconfigTokens

    return KubeconfigTokens(env.get("KUBECONFIG"), args.context)


def _upstream(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[Upstream, str]:
    """The tracking server, and where it is in words."""
    from mlkube.ui.forwarder import Upstream

    port_forward = args.namespace or args.service
    url = args.url or (None if port_forward else env.get("MLFLOW_TRACKING_URI"))
    if url:
        return Upstream.at(url), url
    from mlkube.client.credentials import load_configuration
    from mlkube.client.forward import ServiceForward

    namespace, service = args.namespace or RELEASE_NAMESPACE, args.service or SERVICE
    forward = ServiceForward(
        load_configuration(env.get("KUBECONFIG"), args.context), namespace, service
    )
    target = forward.target()
    where = f"Service {namespace}/{service} (port-forward to pod {target.pod}, port {target.port})"
    return Upstream(forward.connection, forward.host), where


def _probe(upstream: Upstream) -> str | None:
    """Why the tracking server cannot be reached, or None: any HTTP answer to /health will do
    (it needs no token; a gateway in front may answer otherwise)."""
    connection = upstream.connect(PROBE_TIMEOUT)
    try:
        connection.request("GET", upstream.prefix + "/health", headers={"Host": upstream.host})
        connection.getresponse().read()
    except (OSError, http.client.HTTPException) as err:
        return str(err) or type(err).__name__
    finally:
        connection.close()
    return None


def _has_display(env: Mapping[str, str]) -> bool:
    """Whether a graphical browser can open here. Elsewhere (ssh) Python would pick a text-mode
    one, which would take the terminal and spend the one-time link."""
    return sys.platform in ("darwin", "win32") or bool(
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    )
