"""podman with a configuration of its own (the host's /etc/containers is left alone): build,
verify, save and push the images.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import tarfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from images.shell import Log, atomic_write, run
from images.spec import KEY_LABEL, BuildError, Image, podman_dir


def environment() -> dict[str, str]:
    """The environment for podman: storage and engine settings under ``<cache>/podman``.

    The settings are the ones REAL-NODE-NOTES found to work here: crun cannot run on this hybrid
    cgroup host, and runc fails on podman's default rlimits (no CAP_SYS_RESOURCE; the hard limit of
    open files is 20000).
    """
    root = podman_dir()
    root.mkdir(parents=True, exist_ok=True)
    storage = root / "storage.conf"
    containers = root / "containers.conf"
    storage_text = (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{root / "storage"}"\n'
        f'runroot = "{root / "run"}"\n'
    )
    containers_text = (
        "[containers]\n"
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        "[engine]\n"
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'events_logfile_path = "{root / "events.log"}"\n'
        'runtime = "runc"\n'
        f'tmp_dir = "{root / "tmp"}"\n'
    )
    for path, text in ((storage, storage_text), (containers, containers_text)):
        if not path.is_file() or path.read_text() != text:
            atomic_write(path, text)
    env = dict(os.environ)
    env["CONTAINERS_STORAGE_CONF"] = str(storage)
    env["CONTAINERS_CONF"] = str(containers)
    return env


def has(env: Mapping[str, str], refs: Sequence[str], key: str) -> bool:
    """Whether every ref names one local image, and that image was built for ``key``."""
    proc = subprocess.run(
        [
            "podman",
            "image",
            "inspect",
            "--format",
            f'{{{{.Id}}}} {{{{index .Labels "{KEY_LABEL}"}}}}',
            *refs,
        ],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    # podman prints the images it found and fails when any ref is missing.
    found = set(proc.stdout.split("\n")) - {""}
    return proc.returncode == 0 and len(found) == 1 and found.pop().endswith(f" {key}")


# podman build's progress lines worth showing ("[2/2] STEP 5/9: RUN ..."); LABEL steps are noise.
STEP = re.compile(r"(\[\d+/\d+\] )?STEP \d+/\d+: (FROM|COPY|RUN) ")


def build(
    image: Image,
    context: Path,
    *,
    refs: Sequence[str],
    build_args: Mapping[str, str],
    labels: Mapping[str, str],
    wheels: Path | None,
    env: Mapping[str, str],
    log: Log,
) -> None:
    """``podman build`` without network or pulls, tagged with every ref of the image."""
    cmd = ["podman", "build", "--network=none", "--pull=never", "--layers", "--format=oci"]
    for name, value in build_args.items():
        cmd.append(f"--build-arg={name}={value}")
    for name, value in labels.items():
        cmd.append(f"--label={name}={value}")
    if wheels is not None:
        cmd.append(f"--volume={wheels}:/wheels:ro")
    for ref in refs:
        cmd.append(f"--tag={ref}")
    cmd.append(str(context))
    log(f"{image.name}: podman build")
    run(
        f"podman build ({image.name})",
        cmd,
        log,
        env=env,
        echo=lambda line: STEP.match(line) is not None,
    )


# The plain Python image of the tests must stay plain.
NOT_IN_BASE = (
    "import importlib.util as u, sys; "
    "found = [m for m in ('mlkube', 'mlflow', 'sklearn') if u.find_spec(m)]; "
    "sys.exit(f'unexpected: {found}' if found else 0)"
)

# The checks a fresh image must pass before it is saved: (what, arguments after the image).
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "debian-python": (
        ("python3 without mlkube, mlflow or sklearn", ("python3", "-c", NOT_IN_BASE)),
        ("venv and TLS", ("python3", "-c", "import venv, ensurepip, ssl")),
        ("tini", ("tini", "--version")),
    ),
    "mlkube": (
        ("mlkube --help", ("mlkube", "--help")),
        ("mlkube-server --help", ("mlkube-server", "--help")),
        ("mlkube server --help", ("mlkube", "server", "--help")),
        ("mlkube serve --help", ("mlkube", "serve", "--help")),
        (
            "operator and server import",
            (
                "python",
                "-c",
                "import mlkube_operator.main, mlkube_operator.controllers, "
                "mlkube_operator.server.main, mlkube.serving",
            ),
        ),
        ("mlkube-operator on PATH", ("sh", "-c", "command -v mlkube-operator")),
        ("MLflow's web UI bundle", ("sh", "-c", 'test -f "$MLKUBE_UI_DIR/index.html"')),
        ("pip check", ("python", "-m", "pip", "check")),
        ("runs as uid 10001", ("sh", "-c", 'test "$(id -u):$(id -g)" = 10001:10001')),
    ),
    "mlkube-runtime": (
        ("python has sklearn, pandas, mlflow", ("python", "-c", "import sklearn, pandas, mlflow")),
        (
            "python3 is the venv's",
            ("python3", "-c", "import sys; assert sys.prefix == '/opt/mlkube/venv', sys.prefix"),
        ),
        ("examples", ("test", "-f", "/opt/mlkube/examples/sklearn-elasticnet/MLproject")),
        ("pip check", ("python", "-m", "pip", "check")),
        ("runs as uid 10001", ("sh", "-c", 'test "$(id -u):$(id -g)" = 10001:10001')),
    ),
    "minio": (("minio --version", ("--version",)),),
    "pause": (("pause -v", ("-v",)),),
}

USERS = {"minio": "10001:10001", "pause": "65535:65535"}


def verify(image: Image, ref: str, env: Mapping[str, str], log: Log) -> None:
    """Run the image's checks; for pause, also that SIGTERM ends it at once (it is PID 1)."""
    log(f"{image.name}: verifying")
    for what, args in CHECKS[image.name]:
        run(
            f"verify {image.name}: {what}",
            ["podman", "run", "--rm", "--network=none", "--pull=never", ref, *args],
            log,
            env=env,
        )
    if image.name in USERS:
        user = run(
            f"verify {image.name}: user",
            ["podman", "image", "inspect", "--format", "{{.Config.User}}", ref],
            log,
            env=env,
        ).strip()
        if user != USERS[image.name]:
            raise BuildError(f"verify {image.name}: runs as {user!r}, not {USERS[image.name]}")
    if image.name == "pause":
        _verify_pause_stops(ref, env, log)


def _verify_pause_stops(ref: str, env: Mapping[str, str], log: Log) -> None:
    name = f"mlkube-verify-pause-{os.getpid()}"
    run(
        "verify pause: start",
        ["podman", "run", "-d", "--network=none", "--name", name, ref],
        log,
        env=env,
    )
    try:
        started = time.monotonic()
        # Without a SIGTERM handler podman would wait the 10 s and SIGKILL it (exit code 137).
        run("verify pause: stop", ["podman", "stop", "--time=10", name], log, env=env)
        code = run(
            "verify pause: exit code",
            ["podman", "inspect", "--format", "{{.State.ExitCode}}", name],
            log,
            env=env,
        ).strip()
        if code != "0" or time.monotonic() - started > 5:
            raise BuildError(f"verify pause: SIGTERM did not end it cleanly (exit code {code})")
    finally:
        subprocess.run(
            ["podman", "rm", "--force", name], env=dict(env), capture_output=True, check=False
        )


def add_refs(archive: Path, refs: Sequence[str], dest: Path) -> None:
    """Copy an OCI archive, naming its manifest with every ref of ``refs``.

    ``podman save --format oci-archive`` keeps only the first name it is given; containerd's
    ``ctr images import`` creates one image per ``org.opencontainers.image.ref.name`` entry.
    """
    ref_name = "org.opencontainers.image.ref.name"
    with tarfile.open(archive) as src, tarfile.open(dest, "w") as out:
        for member in src:
            if member.name.removeprefix("./") != "index.json":
                out.addfile(member, src.extractfile(member) if member.isfile() else None)
                continue
            handle = src.extractfile(member)
            assert handle is not None
            index = json.load(handle)
            first = index["manifests"][0]
            manifests = []
            for ref in refs:
                entry = copy.deepcopy(first)
                entry.setdefault("annotations", {})[ref_name] = ref
                manifests.append(entry)
            index["manifests"] = manifests
            data = json.dumps(index).encode()
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))


def save(
    image: Image, refs: Sequence[str], archive: Path, env: Mapping[str, str], log: Log
) -> None:
    """Write the image's OCI archive (all its refs) and drop the archives of older keys."""
    log(f"{image.name}: podman save")
    partial = archive.with_name(archive.name + ".partial")
    partial.unlink(missing_ok=True)
    run(
        f"podman save ({image.name})",
        ["podman", "save", "--format=oci-archive", "--output", str(partial), refs[0]],
        log,
        env=env,
    )
    if len(refs) > 1:
        named = archive.with_name(archive.name + ".named")
        add_refs(partial, refs, named)
        partial.unlink()
        partial = named
    partial.replace(archive)
    # Older keys of this image (the pattern keeps mlkube from matching mlkube-runtime's archives).
    older = re.compile(rf"{re.escape(image.name)}-[0-9a-f]{{16}}\.oci\.tar")
    for old in archive.parent.glob(f"{image.name}-*.oci.tar"):
        if old != archive and older.fullmatch(old.name):
            old.unlink()
    # The image this build replaced lost its tags: podman keeps it (800 MB for mlkube) until
    # pruned. Only untagged images go; the tagged ones and their layers stay as the build cache.
    run("podman image prune", ["podman", "image", "prune", "--force"], log, env=env)


def tag(image: Image, registry: str, env: Mapping[str, str], log: Log) -> str:
    """Tag the image ``<registry>/mlkube/<name>:<version>`` in podman."""
    target = image.ref(registry)
    run(f"podman tag ({target})", ["podman", "tag", image.ref(), target], log, env=env)
    return target


def push(image: Image, registry: str, env: Mapping[str, str], log: Log) -> str:
    """Push the image's ``registry`` tag (see ``tag``)."""
    target = image.ref(registry)
    log(f"{image.name}: podman push {target}")
    run(f"podman push ({target})", ["podman", "push", target], log, env=env)
    return target
