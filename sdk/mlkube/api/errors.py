"""Turning pydantic's validation errors into messages that name the field and the fix."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from mlkube.api.common import Model

M = TypeVar("M", bound=Model)


class SpecError(ValueError):
    """Invalid input; ``problems`` holds one ``path: message`` string per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "(root)"


def _message(error: Any) -> str:
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown field; check its spelling against `kubectl explain`"
    if kind == "missing":
        return "required field is missing"
    if "input" in error and kind not in {"model_type", "dict_type"}:
        shown = repr(error["input"])
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{msg[0].lower()}{msg[1:]}, got {shown}"
    return f"{msg[0].lower()}{msg[1:]}"


def problems_of(err: ValidationError, prefix: str = "") -> list[str]:
    """One ``path: message`` string per error, the path in the camelCase names users write."""
    return [f"{_path(prefix, e['loc'])}: {_message(e)}" for e in err.errors()]


def parse(model: type[M], data: Any, prefix: str = "") -> M:
    """Validate ``data`` as ``model``; raise SpecError whose messages start with ``prefix``."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise SpecError(problems_of(err, prefix)) from None
