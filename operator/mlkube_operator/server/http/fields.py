"""Reading request fields once, at the edge, into typed values with MLflow-style errors.

GET requests carry fields in the query string (everything is a string there, repeated fields are
repeated parameters); POST and PATCH carry a JSON object. Types follow protobuf's JSON mapping:
64-bit integers may arrive as numbers or numeric strings, doubles may be "NaN" or "Infinity".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from mlkube_operator.server.errors import invalid

En = TypeVar("En", bound=StrEnum)
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
INT64 = (-(2**63), 2**63 - 1)


def missing(name: str) -> Exception:
    return invalid(
        f"missing value for required parameter '{name}'; see the MLflow REST API reference for "
        "this endpoint's parameters"
    )


class Fields:
    """The fields of one request (or of one nested message), read by type."""

    def __init__(self, data: Mapping[str, Any], where: str = "") -> None:
        self.data = data
        self.where = where

    @classmethod
    def from_query(cls, multi: Mapping[str, list[str]]) -> Fields:
        # A repeated field stays a list; a single one becomes its value.
        return cls({k: v if len(v) > 1 else v[0] for k, v in multi.items() if v})

    def _name(self, name: str) -> str:
        return f"{self.where}{name}"

    def _raw(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            raise missing(self._name(name))
        return value

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self._raw(name, required)
        if value is None:
            return None
        if isinstance(value, list):
            raise invalid(f"parameter '{self._name(name)}' must be a single string, got a list")
        if not isinstance(value, str):
            raise invalid(
                f"parameter '{self._name(name)}' must be a string, got {type(value).__name__} "
                f"{str(value)[:80]!r}"
            )
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None
        if value == "":
            raise missing(self._name(name))
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self._raw(name, required)
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and value.strip().lstrip("+-").isdigit()
        ):
            number = int(value)
        if number is None or not INT64[0] <= number <= INT64[1]:
            raise invalid(f"parameter '{self._name(name)}' must be an integer, got {value!r:.80}")
        return number

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._raw(name, required)
        if value is None:
            return None
        if isinstance(value, str):
            if value in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[value]
            try:
                return float(value)
            except ValueError:
                pass
        elif isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise invalid(f"parameter '{self._name(name)}' must be a number, got {value!r:.80}")

    def boolean(self, name: str) -> bool | None:
        value = self._raw(name, False)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(f"parameter '{self._name(name)}' must be true or false, got {value!r:.80}")

    def enum(self, name: str, kind: type[En], *, required: bool = False) -> En | None:
        value = self._raw(name, required)
        if value is None:
            return None
        names = [m.value for m in kind]
        if isinstance(value, str) and value in names:
            return kind(value)
        raise invalid(f"parameter '{self._name(name)}' must be one of {names}, got {value!r:.80}")

    def _list(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            # A query string repeats a field only when it has several values.
            return [value]
        return value

    def strings(self, name: str) -> list[str]:
        out = self._list(name)
        for item in out:
            if not isinstance(item, str):
                raise invalid(f"parameter '{self._name(name)}' must be a list of strings")
        return out

    def messages(self, name: str) -> list[Fields]:
        out = []
        for index, item in enumerate(self._list(name)):
            if not isinstance(item, dict):
                raise invalid(f"parameter '{self._name(name)}[{index}]' must be an object")
            out.append(Fields(item, f"{self._name(name)}[{index}]."))
        return out

    def message(self, name: str) -> Fields | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(f"parameter '{self._name(name)}' must be an object")
        return Fields(value, f"{self._name(name)}.")

    def key_values(self, name: str, *, value_required: bool = True) -> list[tuple[str, str]]:
        """A repeated ``{key, value}`` message (tags, params) as pairs."""
        pairs = []
        for item in self.messages(name):
            key = item.string("key", required=True)
            value = item.string("value", required=value_required)
            assert key is not None
            pairs.append((key, value or ""))
        return pairs

    def run_id(self) -> str:
        """``run_id``, or the legacy ``run_uuid`` older clients send."""
        value = self.string("run_id") or self.string("run_uuid")
        if not value:
            raise missing("run_id")
        return value
