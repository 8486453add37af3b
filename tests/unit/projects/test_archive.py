"""Project archives are reproducible, honour ignore files and unpack safely."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from mlkube.projects.archive import pack, project_files, unpack


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_ignore_files_and_defaults_exclude(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "p",
        {
            "MLproject": "x",
            "train.py": "x",
            "data/big.csv": "x",
            "data/keep.csv": "x",
            "logs/a.log": "x",
            "sub/logs/b.log": "x",
            ".git/config": "x",
            "pkg/__pycache__/m.pyc": "x",
            ".gitignore": "data/*.csv\n!data/keep.csv\n/logs/\n*.tmp\n",
            "notes.tmp": "x",
        },
    )
    names = sorted(p.relative_to(root).as_posix() for p in project_files(root))
    assert names == [".gitignore", "MLproject", "data/keep.csv", "sub/logs/b.log", "train.py"]


def test_same_files_give_the_same_archive(tmp_path: Path) -> None:
    files = {"MLproject": "name: a\n", "src/train.py": "print(1)\n"}
    first = pack(tree(tmp_path / "a", files), tmp_path / "a.tar.gz")
    second = pack(tree(tmp_path / "b", files), tmp_path / "b.tar.gz")
    assert first == second
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    changed = pack(
        tree(tmp_path / "c", {**files, "src/train.py": "print(2)\n"}), tmp_path / "c.tgz"
    )
    assert changed != first


def test_round_trip(tmp_path: Path) -> None:
    root = tree(tmp_path / "p", {"MLproject": "name: a\n", "src/train.py": "print(1)\n"})
    pack(root, tmp_path / "p.tar.gz")
    unpack(tmp_path / "p.tar.gz", tmp_path / "out")
    assert (tmp_path / "out" / "src" / "train.py").read_text() == "print(1)\n"


@pytest.fixture(params=["filters", "no-filters"])
def python_tarfile(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways unpack works: with extraction filters, and without them as on Python < 3.11.4
    (Debian 12's python3 in mlkube's images, where the init container unpacks projects)."""
    if request.param == "no-filters":
        monkeypatch.delattr(tarfile, "data_filter")
    return str(request.param)


def test_unpack_refuses_paths_outside_the_target(tmp_path: Path, python_tarfile: str) -> None:
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(tarfile.TarError, match=r"escaped\.txt"):
        unpack(evil, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_unpack_refuses_links(tmp_path: Path, python_tarfile: str) -> None:
    evil = tmp_path / "link.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
        info = tarfile.TarInfo("passwd")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(tarfile.TarError):
        unpack(evil, tmp_path / "out")
    assert not (tmp_path / "out" / "passwd").is_symlink()


def test_unpack_extracts_a_packed_project_without_filters(
    tmp_path: Path, python_tarfile: str
) -> None:
    root = tree(tmp_path / "p", {"MLproject": "name: a\n", "run.sh": "echo hi\n"})
    pack(root, tmp_path / "p.tar.gz")
    unpack(tmp_path / "p.tar.gz", tmp_path / "out")
    assert (tmp_path / "out" / "run.sh").read_text() == "echo hi\n"
