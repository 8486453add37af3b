"""Model references as users type them: MODEL@ALIAS, MODEL/VERSION, MODEL/STAGE, with a canary's
share after a colon."""

from __future__ import annotations

import pytest

from mlkube.api.model_deployment import ModelRef
from mlkube.client import BadReference, parse_canary, parse_model_ref
from mlkube.client.refs import format_model_ref


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("diabetes@champion", ModelRef(name="diabetes", alias="champion")),
        ("models:/diabetes@champion", ModelRef(name="diabetes", alias="champion")),
        ("diabetes/3", ModelRef(name="diabetes", version=3)),
        ("diabetes/production", ModelRef(name="diabetes", stage="Production")),
        ("diabetes/Staging", ModelRef(name="diabetes", stage="Staging")),
    ],
)
def test_the_forms(text: str, ref: ModelRef) -> None:
    assert parse_model_ref(text) == ref
    assert parse_model_ref(format_model_ref(ref)) == ref


def test_a_canary_carries_its_share() -> None:
    canary = parse_canary("diabetes/2:20")
    assert (canary.model, canary.traffic_percent) == (ModelRef(name="diabetes", version=2), 20)


@pytest.mark.parametrize(
    "text", ["Diabetes@x", "diabetes@", "diabetes/0", "diabetes/Archived", "a/b/c", ""]
)
def test_what_is_refused(text: str) -> None:
    with pytest.raises(BadReference):
        parse_model_ref(text)
    with pytest.raises(BadReference):
        parse_canary(f"{text}:150")
