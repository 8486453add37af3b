"""Shell completion of resource names: the objects of the kind in the namespace, asked of the
cluster as the user types (best effort: an unreachable cluster completes nothing)."""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

from mlkube.api.kinds import Kind
from mlkube.cli.base import Options

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def complete(kind: Kind) -> Completer:
    def names(ctx: click.Context, _: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            client = (ctx.find_object(Options) or Options()).client()
            items, _version = client.kube.list(kind, client.namespace)
        except Exception:  # completion must never fail the shell, whatever went wrong
            return []
        found = sorted(str((i.get("metadata") or {}).get("name")) for i in items)
        return [CompletionItem(n) for n in found if n.startswith(incomplete)]

    return names
