from __future__ import annotations

from fractions import Fraction

import pytest
from e2e.cluster.agent import quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Fraction(1)),
        ("500m", Fraction(1, 2)),
        ("1.5", Fraction(3, 2)),
        ("1Ki", Fraction(1024)),
        ("2Gi", Fraction(2 * 2**30)),
        ("1k", Fraction(1000)),
        ("1e3", Fraction(1000)),
        ("100M", Fraction(10**8)),
        (".5", Fraction(1, 2)),
        (3, Fraction(3)),
    ],
)
def test_quantities_parse_exactly(text: str | int, value: Fraction) -> None:
    assert quantity.parse(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "5Q", "abc"])
def test_invalid_quantities_are_rejected_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid quantity"):
        quantity.parse(text)


def test_division_rounds_up_as_the_downward_api_does() -> None:
    assert quantity.ceil_divide("500m", None) == 1
    assert quantity.ceil_divide("1500m", "1m") == 1500
    assert quantity.ceil_divide("1Gi", "1Mi") == 1024
    assert quantity.ceil_divide("1", "3") == 1
