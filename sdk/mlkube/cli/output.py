"""Printing resources as kubectl does: a table of the CRD's printer columns (``wide`` adds the
priority-1 ones), or the objects as JSON or YAML that parse back into ``mlkube.api``'s models (a
list as ``kind: List``, as ``kubectl get -o yaml`` prints one)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import yaml

from mlkube.api.common import Model
from mlkube.api.kinds import Kind, PrinterColumn

Obj = dict[str, Any]
# A column the CRD does not have but a table of this kind shows: (header, value of the object).
Extra = tuple[str, Callable[[Obj], str]]
_STEP = re.compile(r"[^.\[]+(?:\[[^\]]*\])?")
_FILTER = re.compile(r'^(?P<key>[^\[]+)\[\?\(@\.(?P<field>\w+)=="(?P<value>[^"]*)"\)\]$')


def wire(obj: Model) -> Obj:
    """The object as the API server holds it, minus the bookkeeping kubectl hides too."""
    data = obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.get("metadata", {}).pop("managedFields", None)
    return data


def document(objs: Sequence[Model], single: bool) -> Obj:
    if single:
        return wire(objs[0])
    return {"apiVersion": "v1", "kind": "List", "items": [wire(o) for o in objs]}


def dump(data: Any, output: str) -> str:
    if output == "yaml":
        return str(yaml.safe_dump(data, sort_keys=False))
    return json.dumps(data, indent=2) + "\n"


def lookup(obj: Obj, path: str) -> Any:
    """A printer column's JSONPath (``.status.phase``, ``.status.conditions[?(@.type=="Ready")]
    .status``) applied to a wire object; None where nothing is."""
    current: Any = obj
    for part in _STEP.findall(path):
        match = _FILTER.match(part)
        if match:
            items = current.get(match["key"]) if isinstance(current, dict) else None
            current = next(
                (i for i in items or [] if str(i.get(match["field"])) == match["value"]), None
            )
        else:
            current = current.get(part) if isinstance(current, dict) else None
        if current is None:
            return None
    return current


def age(value: Any, now: datetime | None = None) -> str:
    """kubectl's short age: 45s, 12m, 5h, 3d."""
    if not value:
        return "<unknown>"
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (unit == "m" and seconds >= size):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def cell(obj: Obj, column: PrinterColumn) -> str:
    value = lookup(obj, column.json_path)
    if column.type == "date":
        return age(value) if value else ""
    return "" if value is None else str(value)


def rows(
    kind: Kind, objs: Sequence[Model], wide: bool, extra: Sequence[Extra] = ()
) -> list[list[str]]:
    """The header and one row per object."""
    columns = [c for c in kind.columns if c.priority == 0 or wide]
    header = ["NAME", *(c.name.upper() for c in columns), *(h for h, _ in extra)]
    table = [header]
    for obj in objs:
        data = wire(obj)
        table.append(
            [
                str(data["metadata"]["name"]),
                *(cell(data, c) for c in columns),
                *(value(data) for _, value in extra),
            ]
        )
    return table


def print_table(table: Sequence[Sequence[str]]) -> None:
    """Columns three spaces apart, as kubectl prints them; bold headers on a terminal."""
    from rich.console import Console
    from rich.table import Table

    grid = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 3, 0, 0))
    for name in table[0]:
        grid.add_column(name, header_style="bold", no_wrap=True, overflow="ignore")
    for row in table[1:]:
        grid.add_row(*row)
    terminal = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if terminal else 100_000
    Console(width=width, highlight=False, soft_wrap=False).print(grid)


def show(
    kind: Kind,
    objs: Sequence[Model],
    output: str,
    *,
    single: bool = False,
    extra: Sequence[Extra] = (),
) -> None:
    """Print ``objs`` in ``output`` format (``single``: one object, not a List)."""
    if output in {"json", "yaml"}:
        click.echo(dump(document(objs, single), output), nl=False)
        return
    if not objs:
        click.echo(f"No {kind.plural} found.", err=True)
        return
    print_table(rows(kind, objs, output == "wide", extra))
