"""The files a kubelet manages for each pod: /etc/hosts, /etc/resolv.conf and /etc/hostname."""

from __future__ import annotations

from dataclasses import dataclass

from e2e.cluster.agent.model import Pod


def hostname(pod: Pod) -> str:
    return (pod.spec.hostname or pod.metadata.name)[:63].rstrip("-.")


def fqdn(pod: Pod, cluster_domain: str) -> str | None:
    if not pod.spec.subdomain:
        return None
    ns = pod.metadata.namespace
    return f"{hostname(pod)}.{pod.spec.subdomain}.{ns}.svc.{cluster_domain}"


def hosts(pod: Pod, pod_ip: str, cluster_domain: str, host_hosts: str = "") -> str:
    """The kubelet's managed hosts file (the node's own for host-network pods)."""
    if pod.spec.host_network:
        out = ["# Kubernetes-managed hosts file (host network).", host_hosts.rstrip("\n")]
    else:
        out = [
            "# Kubernetes-managed hosts file.",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "fe00::0\tip6-localnet",
            "fe00::0\tip6-mcastprefix",
            "fe00::1\tip6-allnodes",
            "fe00::2\tip6-allrouters",
        ]
        name = hostname(pod)
        full = fqdn(pod, cluster_domain)
        out.append(f"{pod_ip}\t{full}\t{name}" if full else f"{pod_ip}\t{name}")
    if pod.spec.host_aliases:
        out.append("")
        out.append("# Entries added by HostAliases.")
        out.extend(f"{a.ip}\t" + "\t".join(a.hostnames) for a in pod.spec.host_aliases)
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class HostResolv:
    nameservers: list[str]
    searches: list[str]
    options: list[str]

    @classmethod
    def parse(cls, text: str) -> HostResolv:
        nameservers: list[str] = []
        searches: list[str] = []
        options: list[str] = []
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "nameserver" and len(fields) > 1:
                nameservers.append(fields[1])
            elif fields[0] in ("search", "domain"):
                searches = fields[1:]
            elif fields[0] == "options":
                options.extend(fields[1:])
        return cls(nameservers, searches, options)


def resolv_conf(pod: Pod, cluster_dns: str, cluster_domain: str, host: HostResolv) -> str:
    """resolv.conf for the pod's dnsPolicy (ClusterFirst: the agent's cluster DNS server)."""
    policy = pod.spec.dns_policy
    if policy == "ClusterFirst" and pod.spec.host_network:
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        ns = pod.metadata.namespace
        nameservers = [cluster_dns]
        searches = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
        searches += host.searches
        options = ["ndots:5"]
    elif policy == "Default":
        nameservers, searches, options = (
            list(host.nameservers),
            list(host.searches),
            list(host.options),
        )
    else:  # None: only dnsConfig
        nameservers, searches, options = [], [], []
    config = pod.spec.dns_config
    if config is not None:
        nameservers += [n for n in config.nameservers if n not in nameservers]
        searches += [s for s in config.searches if s not in searches]
        named = {o.split(":", 1)[0]: o for o in options}
        for option in config.options:
            named[option.name] = f"{option.name}:{option.value}" if option.value else option.name
        options = list(named.values())
    lines = []
    if searches:
        lines.append("search " + " ".join(searches[:32]))
    lines.extend(f"nameserver {n}" for n in nameservers[:3])
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"
