from __future__ import annotations

import yaml
from e2e.cluster.agent.hostfiles import HostResolv, hostname, hosts, resolv_conf
from e2e.cluster.agent.model import Pod

HOST = HostResolv.parse("nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n")


def pod(spec: str = "{}") -> Pod:
    return Pod.model_validate(
        {"metadata": {"name": "web-1", "namespace": "ml"}, "spec": yaml.safe_load(spec)}
    )


def test_cluster_first_points_at_the_cluster_dns_with_the_kubelet_search_path() -> None:
    assert resolv_conf(pod(), "127.10.0.10", "cluster.local", HOST) == (
        "search ml.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        "nameserver 127.10.0.10\n"
        "options ndots:5\n"
    )


def test_default_policy_uses_the_host_and_dns_config_is_merged() -> None:
    text = resolv_conf(
        pod(
            "{dnsPolicy: Default, dnsConfig: {searches: [extra.local], "
            "options: [{name: ndots, value: '2'}]}}"
        ),
        "127.10.0.10",
        "cluster.local",
        HOST,
    )
    assert text == "search corp.example extra.local\nnameserver 10.0.0.2\noptions edns0 ndots:2\n"


def test_the_hosts_file_names_the_pod_and_its_aliases() -> None:
    text = hosts(
        pod("{hostname: db-0, subdomain: db, hostAliases: [{ip: 127.0.0.5, hostnames: [x, y]}]}"),
        "127.20.0.4",
        "cluster.local",
    )
    lines = text.splitlines()
    assert lines[0] == "# Kubernetes-managed hosts file."
    assert "127.0.0.1\tlocalhost" in lines
    assert "127.20.0.4\tdb-0.db.ml.svc.cluster.local\tdb-0" in lines
    assert lines[-1] == "127.0.0.5\tx\ty"
    assert hostname(pod()) == "web-1"
