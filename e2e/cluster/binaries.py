"""Obtain the local control plane's programs: built from their Go modules, cached by version.

Every binary lands in ``<cache>/bin/<name>-<version>`` (``<cache>`` is ``$MLKUBE_CACHE`` or
``~/.cache/mlkube``), so a cold build is a one-time cost per machine and a version bump builds anew.
Builds happen in throw-away wrapper modules under ``<cache>/build/``; the repo is never written.

Run ``python -m e2e.cluster.binaries`` to build whatever is missing (``make setup`` does).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Within one minor of the installed kubectl (1.32), see issue 3; the newest 1.32 patch whose
# staging modules are all served by the module proxy here (v1.32.13 lacks k8s.io/endpointslice).
KUBERNETES_VERSION = "v1.32.2"
# Kubernetes 1.32 is tested against etcd 3.5; 3.5.11+ is required.
ETCD_VERSION = "v3.5.21"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
HELM_VERSION = "v3.17.3"
# The cluster DNS that Kubernetes 1.32 ships with.
COREDNS_VERSION = "v1.11.3"
# crictl: the CRI's command line, used to remove every pod sandbox on `make down`. Not packaged in
# Debian 12; v1.37.0 is the release the module proxy here serves (v1.32.0 was refused).
CRI_TOOLS_VERSION = "v1.37.0"


def cache_dir() -> Path:
    return Path(os.environ.get("MLKUBE_CACHE", Path.home() / ".cache" / "mlkube"))


def bin_dir() -> Path:
    return cache_dir() / "bin"


@dataclass(frozen=True)
class Component:
    """A set of programs built together from one Go module at one version."""

    name: str
    version: str
    programs: tuple[str, ...]

    def path(self, program: str) -> Path:
        return bin_dir() / f"{program}-{self.version}"

    def missing(self) -> list[str]:
        return [p for p in self.programs if not self.path(p).is_file()]


KUBERNETES = Component(
    "kubernetes",
    KUBERNETES_VERSION,
    ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"),
)
ETCD = Component("etcd", ETCD_VERSION, ("etcd",))
MINIO = Component("minio", MINIO_VERSION, ("minio",))
HELM = Component("helm", HELM_VERSION, ("helm",))
COREDNS = Component("coredns", COREDNS_VERSION, ("coredns",))
CRI_TOOLS = Component("cri-tools", CRI_TOOLS_VERSION, ("crictl",))
COMPONENTS = (ETCD, KUBERNETES, MINIO, HELM, COREDNS, CRI_TOOLS)


def binary(program: str) -> Path:
    """The cached path of ``program``; raises with the command to build it if it is missing."""
    for component in COMPONENTS:
        if program in component.programs:
            path = component.path(program)
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} is missing: run `python -m e2e.cluster.binaries` (or `make setup`)"
                )
            return path
    raise KeyError(f"unknown program {program!r}")


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["CGO_ENABLED"] = "0"
    return env


def _run(cmd: Sequence[str], cwd: Path, label: str) -> None:
    """Run a go command, printing a progress line every 100 compiled packages."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=_go_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    tail: deque[str] = deque(maxlen=40)
    for count, line in enumerate(proc.stdout, start=1):
        tail.append(line.rstrip())
        if count % 100 == 0:
            print(f"  [{label}] {count} packages ({time.monotonic() - started:.0f}s)", flush=True)
    if proc.wait() != 0:
        raise RuntimeError(f"{label}: `{' '.join(cmd)}` failed in {cwd}:\n" + "\n".join(tail))


def _fresh_module(name: str, go_mod: str) -> Path:
    work = cache_dir() / "build" / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "go.mod").write_text(go_mod)
    return work


def _install(component: Component, built: Path, program: str) -> None:
    target = component.path(program)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copy2(built, tmp)
    tmp.chmod(0o755)
    tmp.rename(target)


def _module_file(module: str, version: str, cwd: Path) -> str:
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=cwd,
        env=_go_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r'"GoMod":\s*"([^"]+)"', out)
    if not match:
        raise RuntimeError(f"go mod download {module}@{version} gave no go.mod: {out}")
    return Path(match.group(1)).read_text()


def build_kubernetes() -> None:
    """Build kube-apiserver and kube-controller-manager from k8s.io/kubernetes.

    k8s.io/kubernetes replaces its staging modules with local paths; a wrapper module replaces
    each of them with the published ``v0.<minor>.<patch>`` of the same release instead.
    """
    version = KUBERNETES.version
    staging_version = "v0" + version[2:]
    work = _fresh_module(f"kubernetes-{version}", "module mlkube.local/kubernetes\n\ngo 1.23\n")
    upstream = _module_file("k8s.io/kubernetes", version, work)
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", upstream, re.MULTILINE)
    if not staging:
        raise RuntimeError("found no staging replace directives in k8s.io/kubernetes' go.mod")
    replaces = "".join(f"\t{m} => {m} {staging_version}\n" for m in staging)
    (work / "go.mod").write_text(
        f"module mlkube.local/kubernetes\n\ngo 1.23\n\nrequire k8s.io/kubernetes {version}\n\n"
        f"replace (\n{replaces})\n"
    )
    minor = version.split(".")[1]
    ldflags = " ".join(
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in (
            ("gitVersion", version),
            ("gitMajor", "1"),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("buildDate", "1970-01-01T00:00:00Z"),
        )
    )
    out = work / "out"
    targets = [f"k8s.io/kubernetes/cmd/{p}" for p in KUBERNETES.programs]
    _run(["go", "get", *(f"{t}@{version}" for t in targets)], work, "kubernetes: resolve")
    _run(
        ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(out) + "/", *targets],
        work,
        "kubernetes",
    )
    for program in KUBERNETES.programs:
        _install(KUBERNETES, out / program, program)


def build_etcd() -> None:
    version = ETCD.version
    work = _fresh_module(f"etcd-{version}", "module mlkube.local/etcd\n\ngo 1.23\n")
    _run(["go", "get", f"go.etcd.io/etcd/server/v3@{version}"], work, "etcd: resolve")
    _run(
        ["go", "build", "-v", "-trimpath", "-o", str(work / "etcd"), "go.etcd.io/etcd/server/v3"],
        work,
        "etcd",
    )
    _install(ETCD, work / "etcd", "etcd")


def _go_install(component: Component, package: str, program: str, ldflags: str = "") -> None:
    work = _fresh_module(f"{component.name}-{component.version}", "module mlkube.local/tmp\n")
    env_bin = work / "gobin"
    os.environ["GOBIN"] = str(env_bin)
    try:
        _run(
            [
                "go",
                "install",
                "-v",
                "-trimpath",
                f"-ldflags={ldflags}",
                f"{package}@{component.version}",
            ],
            work,
            component.name,
        )
    finally:
        del os.environ["GOBIN"]
    _install(component, env_bin / program, program)


def build_minio() -> None:
    _go_install(MINIO, "github.com/minio/minio", "minio")


def build_helm() -> None:
    # Without these, `helm version` reports only the minor version ("v3.17").
    version = "helm.sh/helm/v3/internal/version"
    ldflags = f"-X {version}.version={HELM.version} -X {version}.gitTreeState=clean"
    _go_install(HELM, "helm.sh/helm/v3/cmd/helm", "helm", ldflags)


def build_coredns() -> None:
    _go_install(COREDNS, "github.com/coredns/coredns", "coredns")


def build_cri_tools() -> None:
    version = "sigs.k8s.io/cri-tools/pkg/version.Version"
    _go_install(
        CRI_TOOLS, "sigs.k8s.io/cri-tools/cmd/crictl", "crictl", f"-X {version}={CRI_TOOLS_VERSION}"
    )


BUILDERS = {
    "etcd": build_etcd,
    "kubernetes": build_kubernetes,
    "minio": build_minio,
    "helm": build_helm,
    "coredns": build_coredns,
    "cri-tools": build_cri_tools,
}


def ensure(names: Sequence[str] = ()) -> None:
    """Build every component in ``names`` (default: all) whose binaries are not cached yet."""
    for component in COMPONENTS:
        if names and component.name not in names:
            continue
        if not component.missing():
            print(f"{component.name} {component.version}: cached in {bin_dir()}", flush=True)
            continue
        print(
            f"{component.name} {component.version}: building (one-time, cached afterwards)",
            flush=True,
        )
        started = time.monotonic()
        BUILDERS[component.name]()
        print(
            f"{component.name} {component.version}: built in {time.monotonic() - started:.0f}s",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "components", nargs="*", help=f"any of {', '.join(BUILDERS)} (default: all)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.components) - set(BUILDERS)
    if unknown:
        parser.error(
            f"unknown component(s) {', '.join(sorted(unknown))}; choose from {', '.join(BUILDERS)}"
        )
    try:
        ensure(args.components)
    except (RuntimeError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
