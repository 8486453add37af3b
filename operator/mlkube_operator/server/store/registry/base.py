"""The registry store contract: what every implementation does, stated once, tested once.

Every method takes the workspace (a Kubernetes namespace) first; registered model names are
unique per workspace and may be any string that ``rules.check_model_name`` accepts. Version
numbers of a model start at 1, are never given out twice (not even after a delete) and come
without gaps from retries. Inputs arrive checked at the HTTP edge (names, aliases, stages, tag
and description limits, sources resolved into ``NewVersion``); the store enforces existence and
uniqueness. Errors are ``MlflowError``s with MLflow's codes.

A method returns once its write is durable, and a later read through the same store object sees
it (read-your-writes). ``tests/contracts/registry.py`` is the executable form of these
docstrings; every implementation must pass it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from mlkube_operator.server.errors import not_found
from mlkube_operator.server.search import registry as search
from mlkube_operator.server.search.paging import Page
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.entities import (
    ModelVersion,
    NewVersion,
    RegisteredModel,
    Stage,
)


class RegistryStore(ABC):
    """Registered models and their versions, per workspace."""

    # -- registered models -------------------------------------------------------------------

    @abstractmethod
    def create_registered_model(
        self, workspace: str, name: str, description: str, tags: dict[str, str]
    ) -> RegisteredModel:
        """Create a model without versions. RESOURCE_ALREADY_EXISTS if the name is taken;
        RESOURCE_DOES_NOT_EXIST if the workspace does not exist (where stores can tell)."""

    @abstractmethod
    def get_registered_model(self, workspace: str, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version per stage;
        RESOURCE_DOES_NOT_EXIST if there is none of that name."""

    @abstractmethod
    def list_registered_models(self, workspace: str) -> list[RegisteredModel]:
        """Every model of the workspace, in no particular order: search filters, orders and
        pages them."""

    @abstractmethod
    def rename_registered_model(self, workspace: str, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions, aliases and registry copies follow it.
        RESOURCE_ALREADY_EXISTS if ``new_name`` belongs to another model."""

    @abstractmethod
    def update_registered_model(
        self, workspace: str, name: str, description: str
    ) -> RegisteredModel:
        """Replace the model's description and return the model."""

    @abstractmethod
    def delete_registered_model(self, workspace: str, name: str) -> None:
        """Delete the model and every version of it (their registry copies go too); the name is
        free again at once."""

    @abstractmethod
    def set_registered_model_tag(self, workspace: str, name: str, key: str, value: str) -> None:
        """Set (or overwrite) a tag of the model."""

    @abstractmethod
    def delete_registered_model_tag(self, workspace: str, name: str, key: str) -> None:
        """Remove a tag; a tag that is not there is not an error (as in MLflow)."""

    @abstractmethod
    def set_registered_model_alias(
        self, workspace: str, name: str, alias: str, version: int
    ) -> None:
        """Point ``alias`` at an existing version (moving it if it pointed elsewhere);
        RESOURCE_DOES_NOT_EXIST if the model or the version does not exist."""

    @abstractmethod
    def delete_registered_model_alias(self, workspace: str, name: str, alias: str) -> None:
        """Remove an alias; an alias that is not there is not an error."""

    # -- model versions ----------------------------------------------------------------------

    @abstractmethod
    def create_model_version(self, workspace: str, name: str, new: NewVersion) -> ModelVersion:
        """Create the next version of model ``name`` and return it with its number, in stage
        None. Its status is PENDING_REGISTRATION until the registry has its files (READY) or
        found them unusable (FAILED_REGISTRATION with a status_message); stores without a
        registry copy answer READY at once. Concurrent calls get distinct numbers.
        RESOURCE_DOES_NOT_EXIST if the model does not exist."""

    @abstractmethod
    def get_model_version(self, workspace: str, name: str, version: int) -> ModelVersion:
        """The version with its tags and aliases; RESOURCE_DOES_NOT_EXIST if the model or the
        version does not exist (deleted versions do not)."""

    @abstractmethod
    def list_model_versions(self, workspace: str, name: str | None) -> list[ModelVersion]:
        """Every version of model ``name`` (of every model when None), in no particular order;
        an unknown name gives an empty list."""

    @abstractmethod
    def update_model_version(
        self, workspace: str, name: str, version: int, description: str
    ) -> ModelVersion:
        """Replace the version's description and return the version."""

    @abstractmethod
    def transition_model_version_stage(
        self, workspace: str, name: str, version: int, stage: Stage, archive_existing: bool
    ) -> ModelVersion:
        """Move the version to ``stage``; with ``archive_existing`` every other version of the
        model in that stage moves to Archived first. Returns the version."""

    @abstractmethod
    def delete_model_version(self, workspace: str, name: str, version: int) -> None:
        """Delete the version and the aliases that point at it. Its number is not reused."""

    @abstractmethod
    def set_model_version_tag(
        self, workspace: str, name: str, version: int, key: str, value: str
    ) -> None:
        """Set (or overwrite) a tag of the version."""

    @abstractmethod
    def delete_model_version_tag(self, workspace: str, name: str, version: int, key: str) -> None:
        """Remove a tag of the version; a tag that is not there is not an error."""

    @abstractmethod
    def get_model_version_download_uri(self, workspace: str, name: str, version: int) -> str:
        """A URI the mlflow client can download the version's files from: the registry's copy
        through the artifact proxy (``mlflow-artifacts:/models/...``) once READY, where the
        store keeps one; the version's ``storage_source`` otherwise."""

    # -- composed from the above (one definition for every store) -----------------------------

    def get_latest_versions(
        self, workspace: str, name: str, stages: Sequence[Stage]
    ) -> list[ModelVersion]:
        """The highest version in each of ``stages`` (every stage when empty)."""
        model = self.get_registered_model(workspace, name)
        wanted = set(stages) or set(Stage)
        return [v for v in model.latest_versions if v.current_stage in wanted]

    def get_model_version_by_alias(self, workspace: str, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at; ``latest`` is the highest version. An unknown alias
        is INVALID_PARAMETER_VALUE (as in MLflow), an unknown model RESOURCE_DOES_NOT_EXIST."""
        model = self.get_registered_model(workspace, name)
        if alias.lower() == rules.LATEST_ALIAS:
            versions = self.list_model_versions(workspace, name)
            if not versions:
                raise not_found(f"Latest version not found for model {name}.")
            return max(versions, key=lambda v: v.version)
        number = model.aliases.get(alias)
        if number is None:
            raise rules.alias_not_found(name, alias)
        return self.get_model_version(workspace, name, number)

    def search_registered_models(
        self,
        workspace: str,
        *,
        filter_string: str | None,
        order_by: Sequence[str],
        max_results: int,
        page_token: str | None,
    ) -> Page[RegisteredModel]:
        """One page of the models matching ``filter_string`` (MLflow's registry grammar), in
        ``order_by`` order then by name; prompts only when the filter asks for them.
        INVALID_PARAMETER_VALUE for a bad filter, order_by or page token."""
        query = search.models_query(filter_string, order_by, page_token)
        return query.run(self.list_registered_models(workspace), max_results)

    def search_model_versions(
        self,
        workspace: str,
        *,
        filter_string: str | None,
        order_by: Sequence[str],
        max_results: int,
        page_token: str | None,
    ) -> Page[ModelVersion]:
        """One page of the versions matching the filter, in ``order_by`` order (the most
        recently changed first without one); errors as search_registered_models."""
        found = search.versions_query(filter_string, order_by, page_token)
        candidates = self.list_model_versions(workspace, found.only_model)
        return found.query.run(candidates, max_results)

    def close(self) -> None:  # noqa: B027  (optional hook; most stores hold nothing to release)
        """Release background resources (watches, threads); the store is unusable after."""
