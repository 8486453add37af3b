"""Issue 5: the node agent runs pods as local processes, as a kubelet, scheduler and service proxy
would. Each test acts as a user: kubectl, manifests, and what the pods themselves can see."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster.cluster import NODE_NAME, ROOT, LocalCluster
from e2e.cluster.waiting import eventually


def apply(cluster: LocalCluster, namespace: str, manifest: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=textwrap.dedent(manifest))


def pod_phase(cluster: LocalCluster, namespace: str, name: str) -> str:
    return cluster.kubectl("get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}")


def wait_phase(cluster: LocalCluster, namespace: str, name: str, *phases: str) -> str:
    """Wait (bounded) until the pod is in one of ``phases``; returns the phase."""
    return eventually(
        lambda: (phase := pod_phase(cluster, namespace, name)) in phases and phase,
        timeout=60,
        what=f"pod {name} to be {' or '.join(phases)}",
    )


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c["type"] == kind:
            return str(c["status"])
    return None


def processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose command line contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(proc.name))
    return found


# -- the node and the scheduler ---------------------------------------------------------------


def test_the_node_is_registered_ready_with_a_renewed_lease(cluster: LocalCluster) -> None:
    node = json.loads(cluster.kubectl("get", "node", NODE_NAME, "-o", "json"))
    assert condition(node, "Ready") == "True"
    status = node["status"]
    assert {"cpu", "memory", "pods", "ephemeral-storage"} <= set(status["allocatable"])
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == cluster.ports.kubelet
    assert node["spec"]["podCIDR"] == cluster.ranges.pod_cidr
    lease = json.loads(
        cluster.kubectl("get", "lease", NODE_NAME, "-n", "kube-node-lease", "-o", "json")
    )
    assert lease["spec"]["holderIdentity"] == NODE_NAME
    first = lease["spec"]["renewTime"]
    eventually(
        lambda: (
            cluster.kubectl(
                "get",
                "lease",
                NODE_NAME,
                "-n",
                "kube-node-lease",
                "-o",
                "jsonpath={.spec.renewTime}",
            )
            != first
        ),
        timeout=30,
        what="the lease to be renewed",
    )


def test_a_pod_that_does_not_fit_stays_pending_saying_why(
    cluster: LocalCluster, namespace: str
) -> None:
    apply(
        cluster,
        namespace,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: huge}
        spec:
          containers:
          - {name: main, image: python:3.11, resources: {requests: {cpu: "1000"}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: elsewhere}
        spec:
          nodeSelector: {disktype: ssd}
          containers: [{name: main, image: python:3.11}]
        """,
    )

    def unschedulable(name: str) -> str | None:
        pod = cluster.get_json(namespace, "pod", name)
        for c in pod["status"].get("conditions") or []:
            if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable":
                return str(c["message"])
        return None

    huge = eventually(lambda: unschedulable("huge"), timeout=30, what="huge to be unschedulable")
    assert "Insufficient cpu" in huge
    elsewhere = eventually(lambda: unschedulable("elsewhere"), timeout=30, what="unschedulable")
    assert "didn't match Pod's node affinity/selector" in elsewhere
    assert cluster.get_json(namespace, "pod", "huge")["spec"].get("nodeName") is None


# -- Jobs, logs and exit status ---------------------------------------------------------------


def test_a_job_completes_and_kubectl_logs_prints_its_output(
    cluster: LocalCluster, namespace: str
) -> None:
    cluster.kubectl(
        "create", "job", "hello", "-n", namespace, "--image=python:3.11",
        "--", "python", "-c", "print(42)",
    )  # fmt: skip
    eventually(
        lambda: condition(cluster.get_json(namespace, "job", "hello"), "Complete") == "True",
        timeout=60,
        what="the Job to complete",
    )
    assert cluster.kubectl("logs", "-n", namespace, "job/hello") == "42\n"
    pod = cluster.get_json(namespace, "pods", "-l", "job-name=hello")["items"][0]
    status = pod["status"]
    assert status["phase"] == "Succeeded"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert status["podIP"].startswith("127.20.")
    assert status["hostIP"] == "127.0.0.1"


def test_a_failing_container_reports_its_termination_message(
    cluster: LocalCluster, namespace: str
) -> None:
    apply(
        cluster,
        namespace,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: fails}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: python:3.11
            command: [sh, -c, 'echo "model.pkl: no such file" > /dev/termination-log; exit 3']
          - name: traceback
            image: python:3.11
            command: [python, -c, 'raise ValueError("bad label column")']
            terminationMessagePolicy: FallbackToLogsOnError
        """,
    )
    wait_phase(cluster, namespace, "fails", "Failed")
    statuses = {
        s["name"]: s["state"]["terminated"]
        for s in cluster.get_json(namespace, "pod", "fails")["status"]["containerStatuses"]
    }
    assert statuses["main"]["exitCode"] == 3
    assert statuses["main"]["reason"] == "Error"
    assert statuses["main"]["message"] == "model.pkl: no such file\n"
    assert statuses["traceback"]["exitCode"] == 1
    assert "ValueError: bad label column" in statuses["traceback"]["message"]


def test_an_unknown_image_waits_with_err_image_pull_naming_the_table(
    cluster: LocalCluster, namespace: str
) -> None:
    cluster.kubectl("run", "nosuch", "-n", namespace, "--image=example.com/nosuch:1", "--", "x")

    def waiting() -> dict[str, Any] | None:
        pod = cluster.get_json(namespace, "pod", "nosuch")
        statuses = pod["status"].get("containerStatuses") or [{}]
        state: dict[str, Any] | None = statuses[0].get("state", {}).get("waiting")
        if state and state.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
            return state
        return None

    state = eventually(waiting, timeout=60, what="ErrImagePull")
    assert "image table" in state["message"] or "Back-off pulling image" in state["message"]
    assert pod_phase(cluster, namespace, "nosuch") == "Pending"


def test_kubectl_logs_follows_a_running_container(cluster: LocalCluster, namespace: str) -> None:
    cluster.kubectl(
        "run", "ticker", "-n", namespace, "--image=python:3.11", "--restart=Never", "--",
        "python", "-u", "-c",
        "import time\nfor i in range(3):\n    print('tick', i)\n    time.sleep(1)",
    )  # fmt: skip
    wait_phase(cluster, namespace, "ticker", "Running")
    followed = cluster.kubectl("logs", "-f", "-n", namespace, "ticker")
    assert followed == "tick 0\ntick 1\ntick 2\n"


# -- what a container sees --------------------------------------------------------------------


def test_init_containers_volumes_and_environment(cluster: LocalCluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "settings", "-n", namespace, "--from-literal=mode=fast")
    cluster.kubectl(
        "create", "secret", "generic", "creds", "-n", namespace, "--from-literal=key=s3cr3t"
    )
    apply(
        cluster,
        namespace,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: sees, labels: {team: ml}}
        spec:
          restartPolicy: Never
          volumes:
          - {name: work, emptyDir: {}}
          - {name: settings, configMap: {name: settings}}
          - {name: creds, secret: {secretName: creds}}
          - name: info
            downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
          initContainers:
          - name: prepare
            image: python:3.11
            command: [sh, -c, 'echo prepared > /work/state']
            volumeMounts: [{name: work, mountPath: /work}]
          containers:
          - name: main
            image: python:3.11
            workingDir: /work
            command: [python, -c]
            args:
            - |
              import json, os, socket
              print(json.dumps({
                  "state": open("state").read().strip(),
                  "mode": open("/etc/settings/mode").read(),
                  "key": open("/etc/creds/key").read(),
                  "labels": open("/etc/info/labels").read(),
                  "env": {k: os.environ.get(k) for k in
                          ("MODE", "KEY", "POD_NAME", "POD_NS", "POD_IP", "GREETING", "KEYS_mode")},
                  "hostname": socket.gethostname(),
                  "cwd": os.getcwd(),
              }))
            env:
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
            - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
            - {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}
            - {name: KEY, valueFrom: {secretKeyRef: {name: creds, key: key}}}
            - {name: GREETING, value: "hello $(POD_NAME)"}
            envFrom:
            - {prefix: KEYS_, configMapRef: {name: settings}}
            volumeMounts:
            - {name: work, mountPath: /work}
            - {name: settings, mountPath: /etc/settings}
            - {name: creds, mountPath: /etc/creds, readOnly: true}
            - {name: info, mountPath: /etc/info}
        """,
    )
    wait_phase(cluster, namespace, "sees", "Succeeded")
    seen = json.loads(cluster.kubectl("logs", "-n", namespace, "sees"))
    pod = cluster.get_json(namespace, "pod", "sees")
    assert seen["state"] == "prepared"
    assert seen["mode"] == "fast"
    assert seen["key"] == "s3cr3t"
    assert seen["labels"] == 'team="ml"'
    assert seen["env"] == {
        "MODE": "fast",
        "KEY": "s3cr3t",
        "POD_NAME": "sees",
        "POD_NS": namespace,
        "POD_IP": pod["status"]["podIP"],
        "GREETING": "hello sees",
        "KEYS_mode": "fast",
    }
    assert seen["hostname"] == "sees"
    assert seen["cwd"] == "/work"
    init = pod["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert condition(pod, "Initialized") == "True"


def test_a_failing_liveness_probe_restarts_the_container(
    cluster: LocalCluster, namespace: str
) -> None:
    apply(
        cluster,
        namespace,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: unhealthy}
        spec:
          containers:
          - name: main
            image: python:3.11
            command: [python, -c, 'import time; time.sleep(600)']
            livenessProbe:
              exec: {command: [sh, -c, 'test -e /tmp/healthy']}
              periodSeconds: 1
              failureThreshold: 1
        """,
    )

    def restarted() -> dict[str, Any] | None:
        statuses = cluster.get_json(namespace, "pod", "unhealthy")["status"].get(
            "containerStatuses"
        )
        if statuses and statuses[0]["restartCount"] >= 1:
            return dict(statuses[0])
        return None

    status = eventually(restarted, timeout=60, what="a restart after the liveness probe failed")
    assert status["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = cluster.kubectl("get", "events", "-n", namespace, "-o", "json")
    reasons = {e["reason"] for e in json.loads(events)["items"]}
    assert {"Unhealthy", "Killing"} <= reasons


def test_deletion_sends_sigterm_then_sigkill_after_the_grace_period(
    cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    out = tmp_path / "signals"
    out.mkdir()
    marker = f"stubborn-{namespace}"
    apply(
        cluster,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: stubborn}}
        spec:
          terminationGracePeriodSeconds: 2
          volumes: [{{name: out, hostPath: {{path: "{out}"}}}}]
          containers:
          - name: main
            image: python:3.11
            volumeMounts: [{{name: out, mountPath: /out}}]
            command:
            - sh
            - -c
            - 'trap "echo TERM >> /out/log" TERM; echo up > /out/up; while :; do sleep 0.1; done'
            - {marker}
        """,
    )
    eventually((out / "up").exists, timeout=60, what="the container to start")
    shells = processes_with(marker)
    assert shells
    cluster.kubectl("delete", "pod", "stubborn", "-n", namespace, "--wait=true", "--timeout=60s")
    # It ignored SIGTERM; SIGKILL ended it once the grace period was over.
    assert (out / "log").read_text() == "TERM\n"
    assert [pid for pid in shells if Path(f"/proc/{pid}").exists()] == []


# -- networking -------------------------------------------------------------------------------

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: python:3.11
        # Pods share the host's network: each binds its own pod IP.
        command: [python, -m, http.server, "8080", --bind, $(POD_IP), --directory, /srv]
        env:
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        ports: [{name: http, containerPort: 8080}]
        startupProbe:
          tcpSocket: {port: http}
          periodSeconds: 1
        readinessProbe:
          httpGet: {path: /, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def test_a_deployment_serves_through_its_service_and_scales_to_zero(
    cluster: LocalCluster, namespace: str
) -> None:
    apply(cluster, namespace, WEB)
    eventually(
        lambda: (
            condition(cluster.get_json(namespace, "deployment", "web"), "Available") == "True"
            and cluster.get_json(namespace, "deployment", "web")["status"].get("readyReplicas") == 2
        ),
        timeout=90,
        what="the Deployment to be Available with 2 ready replicas",
    )
    pods = cluster.get_json(namespace, "pods", "-l", "app=web")["items"]
    ips = sorted(p["status"]["podIP"] for p in pods)
    assert len(set(ips)) == 2
    servers = [pid for ip in ips for pid in processes_with(f"--bind {ip} ")]
    assert len(servers) == 2

    cluster_ip = cluster.get_json(namespace, "service", "web")["spec"]["clusterIP"]
    with urllib.request.urlopen(f"http://{cluster_ip}/", timeout=10) as response:
        assert response.status == 200

    cluster.kubectl(
        "run", "client", "-n", namespace, "--image=python:3.11", "--restart=Never",
        f"--env=FULL=web.{namespace}.svc.cluster.local", "--",
        "python", "-c",
        "import os, urllib.request as u\n"
        "for host in ('web', os.environ['FULL']):\n"
        "    print(u.urlopen(f'http://{host}/', timeout=10).status)",
    )  # fmt: skip
    phase = wait_phase(cluster, namespace, "client", "Succeeded", "Failed")
    assert cluster.kubectl("logs", "-n", namespace, "client") == "200\n200\n"
    assert phase == "Succeeded"

    cluster.kubectl("scale", "deployment", "web", "-n", namespace, "--replicas=0")
    eventually(
        lambda: not cluster.get_json(namespace, "pods", "-l", "app=web")["items"],
        timeout=60,
        what="the pods to be deleted",
    )
    assert [pid for pid in servers if Path(f"/proc/{pid}").exists()] == []
    with pytest.raises(OSError, match="refused"):
        urllib.request.urlopen(f"http://{cluster_ip}/", timeout=10)


def test_a_pod_has_exactly_the_rights_of_its_service_account(
    cluster: LocalCluster, namespace: str
) -> None:
    apply(
        cluster,
        namespace,
        """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: reader}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: pod-reader}
        rules:
        - {apiGroups: [""], resources: [pods], verbs: [get, list]}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: reader-reads-pods}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
        subjects: [{kind: ServiceAccount, name: reader}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: rbac}
        spec:
          serviceAccountName: reader
          restartPolicy: Never
          containers:
          - name: main
            image: python:3.11
            command: [python, -c]
            args:
            - |
              import json
              from kubernetes import client, config
              from kubernetes.client.rest import ApiException
              config.load_incluster_config()
              ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
              api = client.CoreV1Api()
              def attempt(call):
                  try:
                      call()
                      return 200
                  except ApiException as err:
                      return err.status
              print(json.dumps({
                  "pods": attempt(lambda: api.list_namespaced_pod(ns)),
                  "secrets": attempt(lambda: api.list_namespaced_secret(ns)),
                  "other namespace": attempt(lambda: api.list_namespaced_pod("default")),
                  "me": api.read_namespaced_pod("rbac", ns).spec.service_account_name,
              }))
        """,
    )
    wait_phase(cluster, namespace, "rbac", "Succeeded", "Failed")
    answers = json.loads(cluster.kubectl("logs", "-n", namespace, "rbac"))
    assert answers == {"pods": 200, "secrets": 403, "other namespace": 403, "me": "reader"}


# -- no orphans -------------------------------------------------------------------------------


def test_stopping_the_agent_or_the_cluster_leaves_no_process(tmp_path: Path) -> None:
    """Pod processes die with the agent, even SIGKILLed, and with `make down`; daemons too."""
    state = tmp_path / "local"
    marker = f"orphan-check-{uuid.uuid4().hex[:8]}"
    sleeper = f'python3 -c "import time; time.sleep(3600)" {marker}'
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def stack(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "e2e.cluster", command, "--state", str(state)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    try:
        up = stack("up")
        assert up.returncode == 0, up.stderr
        local = LocalCluster(state, detach=True)
        # A pod whose shell starts a daemon (new session, reparented) and keeps running.
        pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: NAME}}
        spec:
          containers:
          - name: main
            image: python:3.11
            command: [sh, -c, '(setsid {sleeper} &); exec {sleeper}']
        """
        local.kubectl("apply", "-f", "-", stdin=textwrap.dedent(pod.replace("NAME", "first")))
        eventually(lambda: len(processes_with(marker)) >= 2, timeout=60, what="the pod's processes")

        agent = local.running()["node-agent"]
        os.kill(agent, signal.SIGKILL)
        eventually(
            lambda: not processes_with(marker), timeout=30, what="the pod's processes to die"
        )

        local.start()  # the agent again; it restarts the pod's container
        eventually(lambda: len(processes_with(marker)) >= 2, timeout=60, what="the pod to restart")
        restarts = local.kubectl(
            "get", "pod", "first", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"
        )
        assert restarts == "1"
    finally:
        down = stack("down")
    assert down.returncode == 0, down.stderr
    assert processes_with(marker) == []
    assert processes_with(str(state)) == []
