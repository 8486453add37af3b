"""Rendering Jinja2 manifest templates into dicts.

Templates are YAML in which every value goes through ``tojson`` (JSON is YAML), so no value can
change the document's structure, whatever characters it holds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
import yaml


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("mlkube_operator.resources", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # YAML, not HTML; values are escaped by tojson
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **values: Any) -> dict[str, Any]:
    text = _environment().get_template(template).render(**values)
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise ValueError(f"{template} did not render to a mapping")
    return document
