"""LIKE and ILIKE without a backtracking regular expression (issue 13: a filter such as
``LIKE '%a%a%a%a%b'`` on a long tag held the server for seconds)."""

from __future__ import annotations

import random
import re

import pytest

from mlkube_operator.server.search.evaluate import like_matcher


def reference(pattern: str, value: str, ignore_case: bool) -> bool:
    """The definition, as a regular expression (fine for the short strings used here)."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("a_c", "abc", True),
        ("a%", "a", True),
        ("%", "", True),
        ("a%a", "a", False),
        ("%b%", "abc", True),
        ("x%y%z", "x-y-y-z", True),
        ("_%_", "a", False),
        ("%.%", "a.b", True),  # no regular-expression meaning leaks through
        ("%a%a%a%a%b", "a" * 220, False),
    ],
)
def test_like_matches_as_sql_says(pattern: str, value: str, expected: bool) -> None:
    assert like_matcher(pattern, False)(value) is expected


def test_ilike_ignores_case() -> None:
    assert like_matcher("Lo%SS", True)("loss")
    assert not like_matcher("Lo%SS", False)("loss")


def test_it_agrees_with_the_definition_on_many_random_cases() -> None:
    rng = random.Random(12)
    for _ in range(5000):
        pattern = "".join(rng.choice("ab%_") for _ in range(rng.randint(0, 6)))
        value = "".join(rng.choice("abAB") for _ in range(rng.randint(0, 8)))
        ignore_case = rng.random() < 0.3
        got = like_matcher(pattern, ignore_case)(value)
        assert got is reference(pattern, value, ignore_case), (pattern, value, ignore_case)
