"""Project archives: a directory packed reproducibly, stored content-addressed.

The same files give the same bytes (sorted entries, zeroed times and owners), so the sha256 of the
archive names it: uploading an unchanged project twice stores it once. Archives travel through the
tracking server's artifact proxy with the caller's token, to ``mlflow-artifacts:/projects/
<sha256>.tar.gz`` (object key ``<namespace>/projects/<sha256>.tar.gz``, see mlkube.layout); whoever
fetches one checks the bytes against that name.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from mlkube import layout, proxy
from mlkube.storage import StorageError

ALWAYS_EXCLUDED = (".git/", "__pycache__/", "*.pyc", ".venv/", "mlruns/", ".mypy_cache/")
IGNORE_FILES = (".gitignore", ".mlkubeignore")


class Excludes:
    """A subset of .gitignore semantics: globs, `dir/`, anchored `/x`, `**`, and `!` negation."""

    def __init__(self, patterns: list[str]) -> None:
        self.rules: list[tuple[bool, bool, bool, str]] = []
        for raw in patterns:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            line = line.removeprefix("!")
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            self.rules.append((negate, dir_only, anchored, line.lstrip("/")))

    @classmethod
    def for_directory(cls, root: Path) -> Excludes:
        patterns = list(ALWAYS_EXCLUDED)
        for name in IGNORE_FILES:
            if (root / name).is_file():
                patterns += (root / name).read_text().splitlines()
        return cls(patterns)

    def excluded(self, relative: str, is_dir: bool) -> bool:
        result = False
        name = relative.rsplit("/", 1)[-1]
        for negate, dir_only, anchored, pattern in self.rules:
            if dir_only and not is_dir:
                continue
            target = relative if anchored else name
            glob = pattern.replace("**/", "*").replace("/**", "/*")
            if fnmatch.fnmatchcase(target, glob):
                result = not negate
        return result


def project_files(root: Path) -> Iterator[Path]:
    """Every file of the project that is not excluded, in a stable order."""
    excludes = Excludes.for_directory(root)
    for current, dirs, files in os.walk(root):
        here = Path(current)
        rel_here = here.relative_to(root).as_posix()
        prefix = "" if rel_here == "." else rel_here + "/"
        dirs[:] = sorted(d for d in dirs if not excludes.excluded(prefix + d, is_dir=True))
        for name in sorted(files):
            if not excludes.excluded(prefix + name, is_dir=False):
                yield here / name


def pack(root: Path, target: Path) -> str:
    """Write the project in ``root`` as a reproducible .tar.gz to ``target``; return its sha256."""
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"project directory {root} does not exist")
    digest = hashlib.sha256()
    with (
        target.open("wb") as raw,
        # mtime=0: the gzip header holds no timestamp, so equal files give equal bytes.
        gzip.GzipFile(fileobj=_HashingWriter(raw, digest), mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in project_files(root):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(root).as_posix())
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if info.mode & 0o111 else 0o644
            if info.isreg():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            elif info.issym():
                tar.addfile(info)
    return digest.hexdigest()


class _HashingWriter(io.RawIOBase):
    def __init__(self, out: io.BufferedWriter, digest: hashlib._Hash) -> None:
        self.out = out
        self.digest = digest

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]  # bytes suffices here
        self.digest.update(data)
        return self.out.write(data)


def upload(
    root: Path, env: Mapping[str, str], namespace: str, progress: proxy.Progress | None = None
) -> str:
    """Pack ``root`` and PUT it through the tracking server (``MLFLOW_TRACKING_URI``, with the
    caller's token) into workspace ``namespace``; return its ``mlflow-artifacts:/`` URI.
    ``progress`` gets (bytes sent, total) as the archive goes."""
    with tempfile.TemporaryDirectory(prefix="mlkube-project-") as tmp:
        archive = Path(tmp) / "project.tar.gz"
        sha = pack(root, archive)
        proxy.upload_file(
            env, layout.project_archive_path(sha), archive, workspace=namespace, progress=progress
        )
        return layout.project_archive_uri(sha)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_content(archive: Path, sha: str, uri: str) -> None:
    """Refuse an archive whose bytes are not the ones its name promises."""
    actual = sha256_of(archive)
    if actual != sha:
        raise StorageError(
            f"{uri}: the archive's sha256 is {actual}, not the one its name says; upload the "
            "project again (`mlkube run PROJECT`)"
        )


def unpack(archive: Path, target: Path) -> None:
    """Extract an archive made by ``pack``, refusing links and paths that leave ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
            return
        # Python before 3.11.4 (Debian 12's 3.11.2, in mlkube's images) has no extraction
        # filters: check every member as the "data" filter would, then extract.
        root = target.resolve()
        for member in tar.getmembers():
            destination = (root / member.name).resolve()
            if not (member.isfile() or member.isdir()):
                raise tarfile.TarError(f"{member.name}: only files and directories are allowed")
            if destination != root and root not in destination.parents:
                raise tarfile.TarError(f"{member.name}: leaves the project directory")
            member.mode = (member.mode | 0o600) & 0o755
        tar.extractall(target)  # every member was checked above
