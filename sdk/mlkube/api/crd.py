"""Generate the CustomResourceDefinitions from the resource models (`make crds`).

Pydantic's JSON schema is close to what Kubernetes wants but not quite: the API server demands a
*structural* schema (no ``$ref``, no ``anyOf`` except int-or-string, ``properties`` and
``additionalProperties`` never together) and reads a few extensions of its own. This module walks
the pydantic schema and rewrites it into that form; it is pure (models in, dicts out).
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mlkube import layout
from mlkube.api.common import Model
from mlkube.api.kinds import KINDS, Kind

JsonDict = dict[str, Any]

# Keys of a pydantic schema node that a Kubernetes structural schema keeps as they are.
_KEPT = {
    "type",
    "description",
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
}
_ANNOTATIONS = {"description", "default"}


class SchemaError(ValueError):
    """A model uses a construct that has no structural-schema form."""


def _resolve(node: JsonDict, defs: JsonDict) -> JsonDict:
    """Inline ``$ref`` (and pydantic's single-element ``allOf``), siblings taking precedence."""
    node = dict(node)
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node.pop("allOf")[0], **node}
    ref = node.pop("$ref", None)
    if ref is not None:
        target = _resolve(defs[ref.rsplit("/", 1)[-1]], defs)
        node = {**target, **node}
    return node


def _scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)


def structural(node: JsonDict, defs: JsonDict, path: str, *, defaults: bool) -> JsonDict:
    """Rewrite one pydantic schema node (at ``path``) into a structural schema node."""
    node = _resolve(node, defs)
    if "anyOf" in node:
        variants = [_resolve(v, defs) for v in node["anyOf"] if v.get("type") != "null"]
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        if len(variants) == 1:
            # Optional[X]: the field is simply not required.
            inner = {k: v for k, v in outer.items() if k in _ANNOTATIONS or k.startswith("x-")}
            node = {**variants[0], **inner}
        elif {v.get("type") for v in variants} == {"integer", "string"}:
            node = {**outer, "x-kubernetes-int-or-string": True}
        else:
            raise SchemaError(f"{path}: a union of {variants} has no structural schema")

    out: JsonDict = {k: v for k, v in node.items() if k in _KEPT}
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        # Pydantic writes `gt=0` as JSON Schema 2020's `exclusiveMinimum: 0`; Kubernetes reads
        # OpenAPI 3.0's form, a bound and a boolean, and rejects a CRD with a number there.
        limit = out.get(flag)
        if isinstance(limit, int | float) and not isinstance(limit, bool):
            out[bound], out[flag] = limit, True
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            out[key] = copy.deepcopy(value)
    if defaults and "default" in node and _scalar(node["default"]):
        out["default"] = node["default"]

    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {
            name: structural(sub, defs, f"{path}.{name}", defaults=defaults)
            for name, sub in node["properties"].items()
        }
        if node.get("required"):
            out["required"] = list(node["required"])
    elif isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(
            node["additionalProperties"], defs, f"{path}[*]", defaults=defaults
        )
    if "items" in node:
        out["items"] = structural(node["items"], defs, f"{path}[]", defaults=defaults)
    key_rules = dict(_resolve(node.get("propertyNames", {}), defs))
    if "patternProperties" in node:
        # Pydantic writes constrained map keys as patternProperties; Kubernetes has neither that
        # nor propertyNames, so values get additionalProperties and keys a CEL rule.
        ((pattern, values),) = node["patternProperties"].items()
        key_rules["pattern"] = pattern
        out["additionalProperties"] = structural(values, defs, f"{path}[*]", defaults=defaults)
    if key_rules:
        keys = key_rules
        checks = []
        if "pattern" in keys:
            checks.append(f"k.matches(r'{keys['pattern']}')")  # raw: regexes hold backslashes
        if "maxLength" in keys:
            checks.append(f"size(k) <= {keys['maxLength']}")
        if checks:
            out.setdefault("x-kubernetes-validations", []).append(
                {
                    "rule": f"self.all(k, {' && '.join(checks)})",
                    "message": "keys must "
                    + " and ".join(
                        ([f"match {keys['pattern']}"] if "pattern" in keys else [])
                        + (
                            [f"be at most {keys['maxLength']} characters"]
                            if "maxLength" in keys
                            else []
                        )
                    ),
                }
            )
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        raise SchemaError(f"{path}: no type in {node}")
    # type and description first: the generated YAML reads like a hand-written CRD.
    head: JsonDict = {k: out.pop(k) for k in ("type", "description") if k in out}
    return {**head, **out}


def schema_of(model: type[Model], path: str, *, defaults: bool) -> JsonDict:
    raw = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = raw.pop("$defs", {})
    return structural(raw, defs, path, defaults=defaults)


def crd(kind: Kind) -> JsonDict:
    """The CustomResourceDefinition of ``kind``."""
    spec = schema_of(kind.spec, "spec", defaults=True)
    status = schema_of(kind.status, "status", defaults=False)
    root: JsonDict = {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string", "description": "mlkube.io/v1alpha1"},
            "kind": {"type": "string", "description": kind.kind},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if kind.spec_required:
        root["required"] = ["spec"]
    columns = []
    for column in kind.columns:
        entry: JsonDict = {
            "name": column.name,
            "type": column.type,
            "jsonPath": column.json_path,
            "description": column.description,
        }
        if column.priority:
            entry["priority"] = column.priority
        if column.format:
            entry["format"] = column.format
        columns.append(entry)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": dict(layout.PART_OF),
        },
        "spec": {
            "group": kind.group,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["mlkube"],
            },
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


HEADER = "# Generated by `make crds` from sdk/mlkube/api; do not edit.\n"


def render(kind: Kind) -> str:
    body = yaml.safe_dump(crd(kind), sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / f"{kind.crd_name}.yaml"
        path.write_text(render(kind))
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the mlkube CRDs from the resource models.")
    parser.add_argument("directories", type=Path, nargs="*", default=[Path("crds")])
    args = parser.parse_args(argv)
    for directory in args.directories:
        for path in write_all(directory):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
