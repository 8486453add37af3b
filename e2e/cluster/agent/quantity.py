"""Kubernetes resource quantities (``500m``, ``1.5Gi``, ``2e3``) as exact fractions."""

from __future__ import annotations

import math
import re
from fractions import Fraction

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|([a-zA-Z]*))$")


def parse(quantity: str | int | float) -> Fraction:
    """The exact value of ``quantity``; raises ValueError naming the bad text."""
    if isinstance(quantity, int | float):
        return Fraction(quantity)
    match = _QUANTITY.match(quantity.strip())
    if not match:
        raise ValueError(f"invalid quantity {quantity!r}")
    number, exponent, suffix = match.groups()
    value = Fraction(number)
    if exponent:
        return value * Fraction(10) ** int(exponent[1:])
    if suffix not in _SUFFIXES:
        raise ValueError(f"invalid quantity {quantity!r}: unknown suffix {suffix!r}")
    return value * _SUFFIXES[suffix]


def ceil_divide(value: str | int | float, divisor: str | int | float | None) -> int:
    """``value / divisor`` rounded up, as the downward API reports resources."""
    denominator = parse(divisor) if divisor not in (None, "", 0) else Fraction(1)
    if denominator <= 0:
        raise ValueError(f"invalid divisor {divisor!r}")
    return math.ceil(parse(value) / denominator)
