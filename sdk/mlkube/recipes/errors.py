"""What a recipe refuses to do, in words a user can act on."""

from __future__ import annotations


class RecipeError(Exception):
    """The recipe, a profile, a hook or the data is wrong; the message says where and how."""


class ModelNotValidated(RecipeError):
    """``register`` refused a model that missed a validation criterion: its message names each
    failed metric, its value and its threshold (on the cluster it becomes the Run's message)."""
