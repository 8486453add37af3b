"""crds/ is generated from the models, stays in sync with them, and is structural."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.api.crd import crd, render
from mlkube.api.kinds import KINDS, Kind

CRDS = Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_committed_crd_matches_the_models(kind: Kind) -> None:
    committed = CRDS / f"{kind.crd_name}.yaml"
    assert committed.exists(), f"{committed} is missing: run `make crds`"
    assert committed.read_text() == render(kind), f"{committed} is stale: run `make crds`"


def test_the_chart_ships_the_same_crds() -> None:
    chart = CRDS.parent / "charts" / "mlkube" / "crds"
    for kind in KINDS:
        copy = chart / f"{kind.crd_name}.yaml"
        assert copy.exists(), f"{copy} is missing: run `make crds`"
        assert copy.read_text() == (CRDS / copy.name).read_text(), f"{copy} is stale: `make crds`"


def test_crds_directory_holds_exactly_the_five_kinds() -> None:
    assert sorted(p.name for p in CRDS.glob("*.yaml")) == sorted(
        f"{k.crd_name}.yaml" for k in KINDS
    )


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


def schema(kind: Kind) -> dict[str, Any]:
    root: dict[str, Any] = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return root


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: Kind) -> None:
    for path, node in nodes(schema(kind)):
        for forbidden in ("$ref", "allOf", "oneOf", "anyOf"):
            assert forbidden not in node, path
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path
        assert not ("properties" in node and "additionalProperties" in node), path
        # OpenAPI 3.0's exclusive bounds are booleans beside minimum/maximum; the API server
        # rejects the whole CRD when one is a number (JSON Schema 2020's form, pydantic's gt=).
        for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if flag in node:
                assert node[flag] is True, path
                assert bound in node, path


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_spec_and_status_field_is_described(kind: Kind) -> None:
    """`kubectl explain <kind>.spec.<field>` must always have something to say."""
    undescribed = [
        path
        for path, node in nodes(schema(kind))
        if path.startswith((".spec", ".status")) and "[" not in path and not node.get("description")
    ]
    assert undescribed == []


def test_run_parameters_are_explained() -> None:
    parameters = schema(KINDS[1])["properties"]["spec"]["properties"]["parameters"]
    assert "quote numbers" in parameters["description"]


def rules(node: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in node.get("x-kubernetes-validations", [])]


def test_cel_rules_span_fields_and_guard_immutables() -> None:
    run = schema(KINDS[1])["properties"]["spec"]["properties"]
    assert rules(run["project"]) == [
        "[has(self.uri), has(self.git), has(self.path)].filter(x, x).size() == 1"
    ]
    assert rules(run["experiment"]) == ["self == oldSelf"]
    version = schema(KINDS[3])["properties"]["spec"]["properties"]
    assert rules(version["source"]) == ["self == oldSelf"]
    assert rules(version["model"]) == ["self == oldSelf"]
    deployment = schema(KINDS[4])["properties"]["spec"]["properties"]
    one_of = "[has(self.version), has(self.alias), has(self.stage)].filter(x, x).size() == 1"
    assert rules(deployment["model"]) == [one_of]
    assert rules(deployment["canary"]["properties"]["model"]) == [one_of]


EXPECTED_COLUMNS = {
    "Run": ["Experiment", "Phase", "Started", "Duration", "Age"],
    "ModelVersion": ["Model", "Version", "Stage", "Phase"],
    "ModelDeployment": ["Model", "Served", "Ready", "URL"],
    "Experiment": ["Runs", "Age"],
}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_names_columns_category_and_status_subresource(kind: Kind) -> None:
    generated = crd(kind)["spec"]
    assert generated["names"]["categories"] == ["mlkube"]
    assert generated["names"]["shortNames"]
    version = generated["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    for wanted in EXPECTED_COLUMNS.get(kind.kind, []):
        assert wanted in columns


def test_committed_files_are_valid_yaml_with_header() -> None:
    for path in CRDS.glob("*.yaml"):
        text = path.read_text()
        assert text.startswith("# Generated by `make crds`")
        assert yaml.safe_load(text)["kind"] == "CustomResourceDefinition"
