"""Step cards: one self-contained HTML page per step (styles and SVG plots inline, no script,
nothing fetched), readable on its own in a browser and in the MLflow UI's artifact viewer.

A step fills a Card with sections; the engine adds the header (recipe, run, cache key) when it
renders it. Every value is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A table in a card shows at most this many rows (say so when it cuts).
MAX_ROWS = 50
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #666; font-size: 12px; } .meta code { font-size: 12px; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
.passed { color: #117733; font-weight: 600; } .failed { color: #bb2222; font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { font-size: 12px; color: #444; text-align: center; }
svg { max-width: 100%; height: auto; }
"""
VERDICTS = {"passed", "failed"}


def shown(value: Any) -> str:
    """A value as a card shows it: floats to 4 significant digits."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _cell(value: Any) -> str:
    text = html.escape(shown(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{text}</td>'
    if isinstance(value, str) and value in VERDICTS:
        return f'<td class="{value}">{text}</td>'
    return f"<td>{text}</td>"


@dataclass
class Card:
    step: str
    title: str
    _body: list[str] = field(default_factory=list)

    def facts(self, title: str, items: Mapping[str, Any]) -> None:
        self.table(title, ["", ""], [[key, value] for key, value in items.items()], head=False)

    def table(
        self, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], head: bool = True
    ) -> None:
        kept = rows[:MAX_ROWS]
        lines = [f"<section><h2>{html.escape(title)}</h2><table>"]
        if head:
            lines.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        lines += ["<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in kept]
        lines.append("</table>")
        if len(rows) > len(kept):
            lines.append(f'<p class="meta">the first {len(kept)} of {len(rows)} rows</p>')
        self._body.append("".join(lines) + "</section>")

    def plots(self, title: str, figures: Mapping[str, str]) -> None:
        """``figures``: caption -> SVG markup (from mlkube.recipes.plots, trusted)."""
        inner = "".join(
            f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"
            for caption, svg in figures.items()
        )
        self._body.append(f'<section><h2>{html.escape(title)}</h2><div class="plots">{inner}')
        self._body.append("</div></section>")

    def note(self, text: str) -> None:
        self._body.append(f"<p>{html.escape(text)}</p>")

    def render(self, header: Mapping[str, str]) -> str:
        meta = " · ".join(
            f"{html.escape(k)} <code>{html.escape(v)}</code>" for k, v in header.items()
        )
        title = html.escape(self.title)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{STYLE}</style></head>"
            f'<body><h1>{title}</h1><p class="meta">{meta}</p>{"".join(self._body)}</body></html>\n'
        )
