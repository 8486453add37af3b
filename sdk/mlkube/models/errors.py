"""The two ways a model goes wrong: the model itself, or the data it is asked to score."""

from __future__ import annotations


class ModelError(ValueError):
    """A model directory cannot be read, written or loaded; the message names the file, field
    and fix."""


class InputError(ValueError):
    """Input data or params do not fit the model's signature; the message names the column (or
    param) and the type it expects. A scoring server answers it with 400 BAD_REQUEST."""
