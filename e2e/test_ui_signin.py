"""Issue 14: signing in to MLflow's web UI with `mlkube ui`.

The tracking server (auth on, as always in e2e) serves the UI's pages without a token, but not the
API calls they make. `mlkube ui` runs on the user's machine, adds the kubeconfig user's bearer token
to the browser's requests, and lets in only the browser that opened its one-time sign-in link:
checked against the session's tracking server with a user whose kubeconfig holds a token, with raw
HTTP and in headless Chromium; and through a port-forward to a Service's pod, with a user who has
only the rights that needs.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.identities import namespaced_editor, service_account, token
from e2e.cluster.mlkube_ui import UiProcess, session_cookie, ui_environment
from e2e.cluster.waiting import eventually
from e2e.ui.browser import CHROMIUM

EXPERIMENT = "seen-through-mlkube-ui"
SEARCH = "/ajax-api/2.0/mlflow/experiments/search?max_results=100"
# The runtime image under its documented alias (images/README.md): Python, no mlkube.
PYTHON = "python:3.11"
ECHO = """
import hashlib, http.server, json
class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({"path": self.path, "headers": list(self.headers.items()),
                          "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = answer
http.server.ThreadingHTTPServer(("", 8080), Echo).serve_forever()
"""


def token_kubeconfig(cluster: LocalCluster, path: Path, user_token: str) -> Path:
    """The cluster's kubeconfig with its user signing in by ``user_token`` (not a certificate)."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "user", "user": {"token": user_token}}]
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def base_of(link: str) -> str:
    return link.split("/?", 1)[0]


def names(answer: httpx.Response) -> set[str]:
    return {e["name"] for e in answer.json().get("experiments", [])}


@pytest.fixture
def user_kubeconfig(
    operator: LocalCluster, tracking_uri: str, namespace: str, tmp_path: Path
) -> Path:
    """A kubeconfig whose user signs in with a token and may edit mlkube's resources in
    ``namespace``, where it made the experiment EXPERIMENT."""
    user_token = namespaced_editor(operator, namespace, "ui-user")
    made = httpx.post(
        f"{tracking_uri}/api/2.0/mlflow/experiments/create",
        json={"name": EXPERIMENT},
        headers={"X-MLFLOW-WORKSPACE": namespace, "Authorization": f"Bearer {user_token}"},
        timeout=30,
    )
    assert made.status_code == 200, made.text
    return token_kubeconfig(operator, tmp_path / "kubeconfig", user_token)


def test_the_ui_signs_in_with_the_kubeconfigs_token_and_only_for_its_browser(
    tracking_uri: str, namespace: str, user_kubeconfig: Path
) -> None:
    workspace = {"X-MLFLOW-WORKSPACE": namespace}
    env = ui_environment(KUBECONFIG=str(user_kubeconfig))
    with UiProcess(["--url", tracking_uri, "--no-browser"], env) as ui:
        link = ui.link()
        base = base_of(link)
        cookie = {"Cookie": session_cookie(link)}

        def listed() -> httpx.Response | None:
            answer = httpx.get(base + SEARCH, headers={**workspace, **cookie}, timeout=30)
            assert answer.status_code == 200, answer.text
            return answer if EXPERIMENT in names(answer) else None

        eventually(listed, timeout=30, what=f"{EXPERIMENT} through mlkube ui")
        # Without the cookie, or for another Host name (DNS rebinding), nothing is forwarded.
        assert httpx.get(base + SEARCH, headers=workspace, timeout=30).status_code == 403
        rebound = {**workspace, **cookie, "Host": f"rebound.example:{base.rsplit(':', 1)[1]}"}
        assert httpx.get(base + SEARCH, headers=rebound, timeout=30).status_code == 403
        # The server itself still wants a token.
        assert httpx.get(tracking_uri + SEARCH, headers=workspace, timeout=30).status_code == 401
        code, rest = ui.stop()
    assert code == 0
    assert "stopped" in rest


def test_chromium_opens_the_link_and_lists_the_experiments(
    tracking_uri: str, namespace: str, user_kubeconfig: Path
) -> None:
    from playwright.sync_api import sync_playwright

    env = ui_environment(KUBECONFIG=str(user_kubeconfig))
    with UiProcess(["--url", tracking_uri, "--no-browser"], env) as ui, sync_playwright() as p:
        link = ui.link()
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(link)
            page.wait_for_url(base_of(link) + "/")
            (session,) = [c for c in context.cookies() if c["name"].startswith("mlkube-ui-")]
            assert session["httpOnly"]
            assert session["sameSite"] == "Strict"
            page.goto(f"{base_of(link)}/#/experiments?workspace={namespace}")
            page.get_by_text(EXPERIMENT).first.wait_for(timeout=60_000)
        finally:
            browser.close()
        assert ui.stop()[0] == 0


def echo_objects(name: str) -> list[dict[str, Any]]:
    """A pod echoing each request as JSON, behind a Service whose targetPort is a port name."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "echo",
                        "image": PYTHON,
                        "command": ["python3", "-c", textwrap.dedent(ECHO)],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    ]


def forwarder_rights(namespace: str, account: str) -> list[dict[str, Any]]:
    """What docs/security.md says port-forwarding needs, and no more, in ``namespace``."""
    return [
        service_account(namespace, account),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": account, "namespace": namespace},
            "rules": [
                {"apiGroups": [""], "resources": ["services"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["get", "create"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": account, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    ]


def apply(cluster: LocalCluster, namespace: str, objects: list[dict[str, Any]]) -> None:
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=document)


def test_through_a_port_forward_to_the_services_pod(
    cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    apply(
        cluster,
        namespace,
        [
            *echo_objects("echo"),
            *forwarder_rights(namespace, "forwarder"),
            service_account(namespace, "nobody"),
        ],
    )
    args = ["-n", namespace, "--service", "echo", "--no-browser"]
    # Without the rights, `mlkube ui` says which it lacks (and starts nothing).
    nobody = token_kubeconfig(cluster, tmp_path / "nobody", token(cluster, namespace, "nobody"))
    with UiProcess(args, ui_environment(KUBECONFIG=str(nobody))) as refused:
        assert refused.process.wait(timeout=60) == 2
        assert refused.process.stderr is not None
        message = refused.process.stderr.read()
    assert "get services, list pods and create pods/portforward" in message, message

    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/echo", "--timeout=120s")
    forwarder = token(cluster, namespace, "forwarder")
    kubeconfig = token_kubeconfig(cluster, tmp_path / "kubeconfig", forwarder)
    # An empty PATH: the Kubernetes client forwards, no kubectl is needed.
    env = ui_environment(KUBECONFIG=str(kubeconfig), PATH=str(tmp_path))
    with UiProcess(args, env) as ui:
        link = ui.link()
        cookie = session_cookie(link)
        got = httpx.get(
            base_of(link) + "/ajax-api/2.0/mlflow/runs/get?run_id=1",
            headers={"Cookie": cookie, "Authorization": "Bearer from-the-page"},
            timeout=30,
        )
        assert got.status_code == 200, got.text
        seen = got.json()
        assert seen["path"] == "/ajax-api/2.0/mlflow/runs/get?run_id=1"
        sent = {name.lower(): value for name, value in seen["headers"]}
        assert sent["authorization"] == f"Bearer {forwarder}"
        assert "cookie" not in sent
        body = bytes(range(256)) * 4096  # 1 MiB, through the port-forward's stream
        posted = httpx.post(base_of(link) + "/upload", content=body, headers={"Cookie": cookie})
        assert posted.json()["sha256"] == hashlib.sha256(body).hexdigest()
        assert ui.stop()[0] == 0
