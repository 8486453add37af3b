"""The Job builder against checked-in golden manifests.

After an intended change, regenerate with `MLKUBE_UPDATE_GOLDEN=1 pytest tests/unit/controllers` and
review the diff.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.api import Run, SpecError, parse
from mlkube_operator.resources.distributed import build_service
from mlkube_operator.resources.run import (
    CA_BUNDLE_ENV,
    JobSettings,
    RunIdentity,
    build_ca_bundle,
    build_job,
    build_network_policy,
    job_name,
    spec_problems,
)

GOLDEN = Path(__file__).parent / "golden"
SETTINGS = JobSettings(
    image="mlkube/mlkube-runtime:0.1.0",
    tracking_uri="http://mlkube-server.mlkube.svc:5000",
    runner_image="mlkube/mlkube:0.1.0",
)
IDS = RunIdentity(run_id="0123456789abcdef0123456789abcdef", experiment_id="3")


def run(spec: dict[str, Any], name: str = "train-1") -> Run:
    return parse(
        Run,
        {
            "metadata": {"name": name, "namespace": "ml", "uid": "9f0e-uid"},
            "spec": {"experiment": "churn", **spec},
        },
    )


CASES = {
    "job-archive": {
        "project": {"uri": f"mlflow-artifacts:/projects/{'ab' * 32}.tar.gz"},
        "parameters": {"alpha": "0.5", "l1_ratio": "0.1"},
    },
    "job-git-all-options": {
        "project": {"git": {"url": "https://git.example/p.git", "revision": "v1", "path": "sub"}},
        "entryPoint": "validate",
        "image": "python:3.11",
        "env": [
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}},
        ],
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "backoffLimit": 2,
        "activeDeadlineSeconds": 600,
        "ttlSecondsAfterFinished": 3600,
        "automountServiceAccountToken": True,
    },
    "job-image-path-suspended": {"project": {"path": "/opt/project"}, "suspend": True},
}


def check(name: str, built: dict[str, Any]) -> None:
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("MLKUBE_UPDATE_GOLDEN"):
        golden.write_text(yaml.safe_dump(built, sort_keys=False, width=100))
    assert built == yaml.safe_load(golden.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_job_matches_golden(case: str) -> None:
    check(case, build_job(run(CASES[case]), IDS, SETTINGS))


def test_the_ca_bundle_is_mounted_in_both_containers_and_a_runs_own_setting_wins() -> None:
    spec = {
        "project": {"uri": "s3://mlkube/ml/projects/abc.tar.gz"},
        "env": [{"name": "PIP_CERT", "value": "/etc/ssl/mine.pem"}],
    }
    built = build_job(run(spec), IDS, replace(SETTINGS, ca_bundle=True))
    check("job-ca-bundle", built)
    pod = built["spec"]["template"]["spec"]
    for container in [*pod["initContainers"], *pod["containers"]]:
        values = {e["name"]: e.get("value") for e in container["env"]}
        assert [values[n] for n in CA_BUNDLE_ENV] == [
            "/etc/mlkube/ca/ca.crt",
            "/etc/mlkube/ca/ca.crt",
            "/etc/ssl/mine.pem",
            "/etc/mlkube/ca/ca.crt",
        ]
        assert [e["name"] for e in container["env"]].count("PIP_CERT") == 1
    assert build_ca_bundle("PEM")["data"] == {"ca.crt": "PEM"}


def test_the_run_image_gets_the_runner_and_the_fetched_project() -> None:
    spec = {"project": {"git": {"url": "https://git.example/p.git", "path": "a/b"}}}
    pod = build_job(run(spec), IDS, SETTINGS)["spec"]["template"]["spec"]
    prepare, main = pod["initContainers"][0], pod["containers"][0]
    assert prepare["image"] == "mlkube/mlkube:0.1.0"
    assert [*prepare["command"], *prepare["args"]] == [
        "mlkube", "project", "prepare", "--into", "/mlkube",
        "--git", "https://git.example/p.git", "--revision", "HEAD", "--subdirectory", "a/b",
    ]  # fmt: skip
    assert main["image"] == "mlkube/mlkube-runtime:0.1.0"
    assert [*main["command"], *main["args"]] == [
        "python3", "/mlkube/runner.pyz", "--path", "/mlkube/project/a/b", "--workdir", "/mlkube",
        "--auth-plugin", "/mlkube/python", "--entry-point", "main",
    ]  # fmt: skip
    assert pod["volumes"][0] == {"name": "mlkube", "emptyDir": {}}


def test_the_pod_holds_its_tracking_token_and_no_other_credential() -> None:
    pod = build_job(run({"project": {"path": "/p"}}), IDS, SETTINGS)["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("mlkube-run", False)
    assert pod["volumes"][1] == {
        "name": "mlkube-token",
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "audience": "mlkube",
                        "expirationSeconds": 3600,
                        "path": "token",
                    }
                }
            ]
        },
    }
    for container in [*pod["initContainers"], *pod["containers"]]:
        assert {
            "name": "mlkube-token",
            "mountPath": "/var/run/secrets/mlkube.io/serviceaccount",
            "readOnly": True,
        } in container["volumeMounts"]
        env = {e["name"]: e for e in container["env"]}
        assert (
            env["MLKUBE_TOKEN_FILE"]["value"] == "/var/run/secrets/mlkube.io/serviceaccount/token"
        )
        assert not [n for n in env if n.startswith("MLKUBE_S3") or "secretKeyRef" in str(env[n])]
    asked = run({"project": {"path": "/p"}, "automountServiceAccountToken": True})
    assert build_job(asked, IDS, SETTINGS)["spec"]["template"]["spec"][
        "automountServiceAccountToken"
    ]


def test_the_init_container_gets_the_runs_env_but_not_its_interpreter_paths() -> None:
    spec = {
        "project": {"path": "/p"},
        "env": [{"name": "PATH", "value": "/opt/conda/bin"}, {"name": "HTTPS_PROXY", "value": "p"}],
    }
    pod = build_job(run(spec), IDS, SETTINGS)["spec"]["template"]["spec"]
    names = [e["name"] for e in pod["initContainers"][0]["env"]]
    assert "HTTPS_PROXY" in names
    assert "PATH" not in names
    assert "PATH" in [e["name"] for e in pod["containers"][0]["env"]]


def test_values_cannot_break_the_manifest_structure() -> None:
    hostile = 'x"\n  evil: {injected: true}\n#'
    built = build_job(run({"project": {"path": "/p"}, "parameters": {"k": hostile}}), IDS, SETTINGS)
    args = built["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-1] == f"k={hostile}"
    assert "evil" not in built["spec"]


def test_long_run_names_give_valid_stable_job_names() -> None:
    long = "a" * 60 + "-" + "b" * 100
    assert job_name(long) == job_name(long)
    assert len(job_name(long)) <= 63
    assert job_name("short") == "short"


def test_reserved_environment_variables_are_reported_with_their_path() -> None:
    env = [{"name": "A"}, {"name": "MLFLOW_RUN_ID"}, {"name": "MLFLOW_TRACKING_AUTH"}]
    spec = run({"project": {"path": "/p"}, "env": [*env, {"name": "MLKUBE_S3_ACCESS_KEY"}]})
    assert spec_problems(spec) == [
        "spec.env[1].name: MLFLOW_RUN_ID is set by mlkube for every run; remove it",
        "spec.env[2].name: MLFLOW_TRACKING_AUTH is set by mlkube for every run; remove it",
    ]


# -- distributed Runs (spec.workers > 1) -------------------------------------------------------

DISTRIBUTED = {"project": {"path": "/opt/project"}, "workers": 3, "parameters": {"steps": "5"}}


def test_a_distributed_run_is_one_indexed_job_with_its_service_and_policy() -> None:
    """Golden files for workers: 3: the Indexed Job, the headless Service and the NetworkPolicy
    (which already lets the same Run's pods reach each other on every port: gloo and NCCL
    connect rank to rank on ports of their own choosing, beyond MASTER_PORT)."""
    distributed_run = run(DISTRIBUTED, name="ddp")
    check("job-distributed", build_job(distributed_run, IDS, SETTINGS))
    check("run-service-distributed", build_service("ddp", distributed_run))
    check("run-networkpolicy", build_network_policy("ml", "ddp", "9f0e-uid"))


def test_each_rank_gets_the_torch_distributed_variables() -> None:
    job = build_job(run(DISTRIBUTED, name="ddp"), IDS, SETTINGS)
    spec = job["spec"]
    assert {k: spec.get(k) for k in ("completionMode", "completions", "parallelism")} == {
        "completionMode": "Indexed",
        "completions": 3,
        "parallelism": 3,
    }
    assert (spec["backoffLimitPerIndex"], spec["maxFailedIndexes"]) == (0, 0)
    assert "backoffLimit" not in spec  # the Job fails by its failed index
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == "ddp"
    main, prepare = pod["containers"][0], pod["initContainers"][0]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in main["env"]}
    index = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert env["RANK"] == {"fieldRef": {"fieldPath": index}}
    assert [env[k] for k in ("LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")] == [
        "0", "3", "ddp-0.ddp", "29500",
    ]  # fmt: skip
    # Every rank writes to the one run (its runner decides who logs what).
    assert env["MLFLOW_RUN_ID"] == IDS.run_id
    assert main["args"][-2:] == ["--workers", "3"]
    assert "RANK" not in {e["name"] for e in prepare["env"]}


def test_one_worker_is_the_plain_job() -> None:
    one = build_job(run({"project": {"path": "/opt/project"}, "suspend": True}), IDS, SETTINGS)
    explicit = run({"project": {"path": "/opt/project"}, "suspend": True, "workers": 1})
    assert build_job(explicit, IDS, SETTINGS) == one
    assert "completionMode" not in one["spec"]
    assert "--workers" not in one["spec"]["template"]["spec"]["containers"][0]["args"]


def test_what_a_distributed_run_may_not_ask_is_reported_with_its_path() -> None:
    asked = run(
        {**DISTRIBUTED, "env": [{"name": "RANK", "value": "1"}], "backoffLimit": 2},
        name="ddp.v2",
    )
    assert spec_problems(asked) == [
        "spec.env[0].name: RANK is set by mlkube for each rank of a run with workers > 1; "
        "remove it",
        "spec.backoffLimit: a run with workers > 1 is not retried (a restarted rank cannot "
        "rejoin the others); set it to 0",
        "metadata.name: a run with workers > 1 names its pods' hosts ddp.v2-<rank> and its "
        "Service ddp.v2, so its name must be a DNS label of at most 61 characters: lowercase "
        "letters, digits and '-', starting with a letter; create it under such a name",
    ]
    assert spec_problems(run(DISTRIBUTED, name="d" * 61)) == []
    assert spec_problems(run(DISTRIBUTED, name="d" * 62))
    # One worker: RANK is the user's own variable, and a name with dots is fine.
    single = run({"project": {"path": "/p"}, "env": [{"name": "RANK", "value": "1"}]}, "a.b")
    assert spec_problems(single) == []


def test_workers_are_bounded_by_the_schema() -> None:
    with pytest.raises(SpecError, match=r"spec\.workers"):
        run({**DISTRIBUTED, "workers": 65})
    with pytest.raises(SpecError, match=r"spec\.workers"):
        run({**DISTRIBUTED, "workers": 0})
