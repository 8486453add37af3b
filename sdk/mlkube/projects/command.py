"""Checking parameter values against their declared types and rendering the shell command.

Runs inside the runner zipapp too: standard library only, Python 3.9 at run time (mlproject.py).
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlparse

from mlkube.projects.mlproject import EntryPoint, Parameter, ProjectError

# Fetches a remote `path` parameter (e.g. s3://...) to a local file or directory.
Fetcher = Callable[[str], Path]


def _no_fetch(uri: str) -> Path:
    raise ProjectError(f"cannot fetch {uri!r}: only local paths are available here")


def check_value(param: Parameter, value: str, *, workdir: Path, fetch: Fetcher = _no_fetch) -> str:
    """The value to substitute for ``param``, after checking it has the declared type."""

    def wrong(expected: str) -> ProjectError:
        return ProjectError(f"parameter {param.name!r}: expected {expected}, got {value!r}")

    # if/elif, not match: this module runs in the runner on Python 3.9 (see mlproject.py).
    if param.type == "float":
        try:
            float(value)
        except ValueError:
            raise wrong("float") from None
    elif param.type == "int":
        try:
            int(value)
        except ValueError:
            raise wrong("int") from None
    elif param.type == "uri":
        if not urlparse(value).scheme:
            raise wrong("a URI with a scheme (such as s3://bucket/key)")
    elif param.type == "path":
        scheme = urlparse(value).scheme
        if scheme and scheme != "file":
            return str(fetch(value))
        local = Path(value.removeprefix("file://"))
        local = local if local.is_absolute() else workdir / local
        if not local.exists():
            raise ProjectError(f"parameter {param.name!r}: no such file or directory {value!r}")
        return str(local.resolve())
    return value


def render_command(
    entry_point: EntryPoint,
    given: Mapping[str, str],
    *,
    workdir: Path,
    fetch: Fetcher = _no_fetch,
) -> str:
    """The entry point's command with every ``{param}`` replaced by its shell-quoted value.

    Parameters the entry point does not declare are appended as ``--key value``, as MLflow does.
    """
    missing = [
        name
        for name, param in entry_point.parameters.items()
        if name not in given and param.default is None
    ]
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise ProjectError(
            f"entry point {entry_point.name!r}: no value given for parameter(s) {names}"
        )
    values = {}
    for name, param in entry_point.parameters.items():
        raw = given.get(name, param.default)
        assert raw is not None
        values[name] = shlex.quote(check_value(param, raw, workdir=workdir, fetch=fetch))

    pieces = []
    for literal, field, spec, conversion in string.Formatter().parse(entry_point.command):
        pieces.append(literal)
        if field is None:
            continue
        if field not in values or spec or conversion:
            raise ProjectError(
                f"entry point {entry_point.name!r}: its command uses {{{field}}}, which is not a "
                f"declared parameter (declared: {', '.join(values) or 'none'})"
            )
        pieces.append(values[field])
    extra = [
        f"--{shlex.quote(key)} {shlex.quote(value)}"
        for key, value in given.items()
        if key not in entry_point.parameters
    ]
    return " ".join(["".join(pieces), *extra])
