"""The RegistryStore contract (store/registry/base.py) as tests; every implementation must pass.

A test module subclasses ``RegistryContract`` and provides the ``registry`` and ``workspace``
fixtures. Each test works with its own model names. Registration itself (PENDING -> READY) is
the operator's and is tested end to end (e2e/test_registry_api.py); here a new version is
PENDING_REGISTRATION or READY.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from mlkube_operator.server.errors import ErrorCode, MlflowError
from mlkube_operator.server.store.registry.base import RegistryStore
from mlkube_operator.server.store.registry.entities import NewVersion, Stage, VersionStatus

RUN_ID = "0123456789abcdef0123456789abcdef"


def unique(prefix: str = "Model") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def code_of(call: object) -> ErrorCode:
    with pytest.raises(MlflowError) as caught:
        call()  # type: ignore[operator]  # the tests pass lambdas
    return caught.value.code


def source(path: str = "model") -> NewVersion:
    return NewVersion(
        source=f"runs:/{RUN_ID}/{path}", storage_source=f"runs:/{RUN_ID}/{path}", run_id=RUN_ID
    )


class RegistryContract:
    """Shared tests; fixtures ``registry`` and ``workspace`` come from the subclass's module."""

    # -- registered models -------------------------------------------------------------------

    def test_create_get_and_duplicate(self, registry: RegistryStore, workspace: str) -> None:
        name = unique("Churn Classifier (prod) ü")
        created = registry.create_registered_model(workspace, name, "first", {"team": "risk"})
        assert created.name == name
        assert created.description == "first"
        assert created.tags == {"team": "risk"}
        assert created.aliases == {}
        assert created.latest_versions == ()
        assert created.creation_timestamp > 0
        assert created.last_updated_timestamp >= created.creation_timestamp
        got = registry.get_registered_model(workspace, name)
        assert (got.name, got.description, got.tags) == (name, "first", {"team": "risk"})
        assert code_of(lambda: registry.create_registered_model(workspace, name, "", {})) is (
            ErrorCode.RESOURCE_ALREADY_EXISTS
        )
        assert name in {m.name for m in registry.list_registered_models(workspace)}

    def test_unknown_model(self, registry: RegistryStore, workspace: str) -> None:
        name = unique()
        assert code_of(lambda: registry.get_registered_model(workspace, name)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        assert code_of(lambda: registry.create_model_version(workspace, name, source())) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        assert registry.list_model_versions(workspace, name) == []

    def test_names_are_per_workspace(
        self, registry: RegistryStore, workspace: str, other_workspace: str
    ) -> None:
        name = unique()
        registry.create_registered_model(workspace, name, "", {})
        assert code_of(lambda: registry.get_registered_model(other_workspace, name)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        registry.create_registered_model(other_workspace, name, "other", {})
        assert registry.get_registered_model(other_workspace, name).description == "other"
        assert registry.get_registered_model(workspace, name).description == ""

    def test_update_tags_and_description(self, registry: RegistryStore, workspace: str) -> None:
        name = unique("tagged")
        registry.create_registered_model(workspace, name, "", {"a": "1"})
        updated = registry.update_registered_model(workspace, name, "new words")
        assert updated.description == "new words"
        registry.set_registered_model_tag(workspace, name, "b", "2")
        registry.set_registered_model_tag(workspace, name, "a", "changed")
        assert registry.get_registered_model(workspace, name).tags == {"a": "changed", "b": "2"}
        registry.delete_registered_model_tag(workspace, name, "a")
        registry.delete_registered_model_tag(workspace, name, "never-set")  # not an error
        assert registry.get_registered_model(workspace, name).tags == {"b": "2"}
        assert code_of(
            lambda: registry.set_registered_model_tag(workspace, unique(), "k", "v")
        ) is (ErrorCode.RESOURCE_DOES_NOT_EXIST)

    def test_rename_keeps_versions_and_aliases(
        self, registry: RegistryStore, workspace: str
    ) -> None:
        name, new_name, taken = unique("before"), unique("after"), unique("taken")
        registry.create_registered_model(workspace, name, "", {})
        registry.create_registered_model(workspace, taken, "", {})
        registry.create_model_version(workspace, name, source())
        registry.set_registered_model_alias(workspace, name, "champion", 1)
        assert code_of(lambda: registry.rename_registered_model(workspace, name, taken)) is (
            ErrorCode.RESOURCE_ALREADY_EXISTS
        )
        renamed = registry.rename_registered_model(workspace, name, new_name)
        assert renamed.name == new_name
        assert renamed.aliases == {"champion": 1}
        assert code_of(lambda: registry.get_registered_model(workspace, name)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        version = registry.get_model_version(workspace, new_name, 1)
        assert version.name == new_name
        assert version.aliases == ("champion",)
        assert [v.name for v in registry.list_model_versions(workspace, new_name)] == [new_name]
        assert registry.list_model_versions(workspace, name) == []
        # The old name is free again.
        registry.create_registered_model(workspace, name, "again", {})
        assert registry.get_registered_model(workspace, name).description == "again"
        assert registry.list_model_versions(workspace, name) == []

    def test_delete_model_deletes_its_versions(
        self, registry: RegistryStore, workspace: str
    ) -> None:
        name = unique("doomed")
        registry.create_registered_model(workspace, name, "", {})
        registry.create_model_version(workspace, name, source())
        registry.create_model_version(workspace, name, source())
        registry.delete_registered_model(workspace, name)
        assert code_of(lambda: registry.get_registered_model(workspace, name)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        assert registry.list_model_versions(workspace, name) == []
        assert name not in {m.name for m in registry.list_registered_models(workspace)}
        assert code_of(lambda: registry.delete_registered_model(workspace, name)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        # The name is free again at once, and a new model starts at version 1.
        registry.create_registered_model(workspace, name, "", {})
        assert registry.create_model_version(workspace, name, source()).version == 1

    # -- model versions ----------------------------------------------------------------------

    def test_create_and_get_versions(self, registry: RegistryStore, workspace: str) -> None:
        name = unique("versions")
        registry.create_registered_model(workspace, name, "", {})
        new = NewVersion(
            source=f"mlflow-artifacts:/1/{RUN_ID}/artifacts/model",
            storage_source=f"runs:/{RUN_ID}/model",
            run_id=RUN_ID,
            model_id="m-" + "a" * 32,
            run_link="http://example/run",
            description="v1",
            tags={"k": "v"},
        )
        first = registry.create_model_version(workspace, name, new)
        assert first.version == 1
        assert first.name == name
        assert first.current_stage is Stage.NONE
        assert first.status in {VersionStatus.PENDING_REGISTRATION, VersionStatus.READY}
        assert first.source == new.source
        assert first.storage_source == new.storage_source
        assert (first.run_id, first.model_id, first.run_link) == (
            RUN_ID,
            new.model_id,
            new.run_link,
        )
        assert (first.description, first.tags, first.aliases) == ("v1", {"k": "v"}, ())
        assert first.creation_timestamp > 0
        second = registry.create_model_version(workspace, name, source())
        assert second.version == 2
        got = registry.get_model_version(workspace, name, 1)
        assert (got.version, got.source, got.description, got.tags) == (
            1,
            new.source,
            "v1",
            {"k": "v"},
        )
        assert sorted(v.version for v in registry.list_model_versions(workspace, name)) == [1, 2]
        assert {(v.name, v.version) for v in registry.list_model_versions(workspace, None)} >= {
            (name, 1),
            (name, 2),
        }
        assert code_of(lambda: registry.get_model_version(workspace, name, 3)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        latest = registry.get_registered_model(workspace, name).latest_versions
        assert [(v.version, v.current_stage) for v in latest] == [(2, Stage.NONE)]

    def test_concurrent_versions_get_distinct_numbers(
        self, registry: RegistryStore, workspace: str
    ) -> None:
        name = unique("busy")
        registry.create_registered_model(workspace, name, "", {})
        numbers: list[int] = []
        errors: list[BaseException] = []

        def create() -> None:
            try:
                numbers.append(registry.create_model_version(workspace, name, source()).version)
            except BaseException as err:  # reported below, not lost in the thread
                errors.append(err)

        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == []
        assert sorted(numbers) == list(range(1, 9))

    def test_numbers_are_not_reused_after_a_delete(
        self, registry: RegistryStore, workspace: str
    ) -> None:
        name = unique("gaps")
        registry.create_registered_model(workspace, name, "", {})
        registry.create_model_version(workspace, name, source())
        registry.create_model_version(workspace, name, source())
        registry.delete_model_version(workspace, name, 2)
        assert code_of(lambda: registry.get_model_version(workspace, name, 2)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        assert registry.create_model_version(workspace, name, source()).version == 3
        assert code_of(lambda: registry.delete_model_version(workspace, name, 2)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    def test_update_and_tag_a_version(self, registry: RegistryStore, workspace: str) -> None:
        name = unique("mv-tags")
        registry.create_registered_model(workspace, name, "", {})
        registry.create_model_version(workspace, name, source())
        assert registry.update_model_version(workspace, name, 1, "better").description == "better"
        registry.set_model_version_tag(workspace, name, 1, "quality", "good")
        registry.set_model_version_tag(workspace, name, 1, "other", "x")
        registry.delete_model_version_tag(workspace, name, 1, "other")
        registry.delete_model_version_tag(workspace, name, 1, "never-set")
        got = registry.get_model_version(workspace, name, 1)
        assert (got.description, got.tags) == ("better", {"quality": "good"})
        assert code_of(lambda: registry.set_model_version_tag(workspace, name, 9, "k", "v")) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    def test_stages_and_archiving(self, registry: RegistryStore, workspace: str) -> None:
        name = unique("stages")
        registry.create_registered_model(workspace, name, "", {})
        for _ in range(3):
            registry.create_model_version(workspace, name, source())
        registry.transition_model_version_stage(workspace, name, 1, Stage.PRODUCTION, False)
        registry.transition_model_version_stage(workspace, name, 2, Stage.PRODUCTION, False)
        moved = registry.transition_model_version_stage(workspace, name, 3, Stage.PRODUCTION, True)
        assert moved.current_stage is Stage.PRODUCTION
        stages = {v.version: v.current_stage for v in registry.list_model_versions(workspace, name)}
        assert stages == {1: Stage.ARCHIVED, 2: Stage.ARCHIVED, 3: Stage.PRODUCTION}
        registry.transition_model_version_stage(workspace, name, 1, Stage.STAGING, False)
        latest = registry.get_latest_versions(workspace, name, [])
        assert [(v.version, v.current_stage) for v in latest] == [
            (1, Stage.STAGING),
            (3, Stage.PRODUCTION),
            (2, Stage.ARCHIVED),
        ]
        production = registry.get_latest_versions(workspace, name, [Stage.PRODUCTION])
        assert [v.version for v in production] == [3]
        assert registry.get_latest_versions(workspace, name, [Stage.NONE]) == []

    def test_aliases(self, registry: RegistryStore, workspace: str) -> None:
        name = unique("aliases")
        registry.create_registered_model(workspace, name, "", {})
        registry.create_model_version(workspace, name, source())
        registry.create_model_version(workspace, name, source())
        registry.set_registered_model_alias(workspace, name, "champion", 1)
        registry.set_registered_model_alias(workspace, name, "challenger", 2)
        assert registry.get_model_version_by_alias(workspace, name, "champion").version == 1
        assert registry.get_model_version(workspace, name, 1).aliases == ("champion",)
        registry.set_registered_model_alias(workspace, name, "champion", 2)  # moves it
        assert registry.get_model_version(workspace, name, 2).aliases == (
            "challenger",
            "champion",
        )
        assert registry.get_registered_model(workspace, name).aliases == {
            "champion": 2,
            "challenger": 2,
        }
        assert registry.get_model_version_by_alias(workspace, name, "latest").version == 2
        assert code_of(lambda: registry.set_registered_model_alias(workspace, name, "x", 7)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        assert code_of(lambda: registry.get_model_version_by_alias(workspace, name, "nope")) is (
            ErrorCode.INVALID_PARAMETER_VALUE
        )
        registry.delete_registered_model_alias(workspace, name, "challenger")
        registry.delete_registered_model_alias(workspace, name, "never-set")
        assert registry.get_registered_model(workspace, name).aliases == {"champion": 2}
        # Deleting a version removes the aliases that point at it.
        registry.delete_model_version(workspace, name, 2)
        assert registry.get_registered_model(workspace, name).aliases == {}
        assert registry.get_model_version_by_alias(workspace, name, "latest").version == 1

    def test_download_uri_of_a_new_version(self, registry: RegistryStore, workspace: str) -> None:
        name = unique("download")
        registry.create_registered_model(workspace, name, "", {})
        version = registry.create_model_version(workspace, name, source("model"))
        uri = registry.get_model_version_download_uri(workspace, name, version.version)
        if version.status is VersionStatus.READY and version.storage_location:
            assert uri.startswith("mlflow-artifacts:/models/")
        else:
            assert uri == f"runs:/{RUN_ID}/model"
        assert code_of(lambda: registry.get_model_version_download_uri(workspace, name, 5)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    # -- search ---------------------------------------------------------------------------------

    def test_search_models_and_versions(self, registry: RegistryStore, workspace: str) -> None:
        prefix = unique("Search")
        names = [f"{prefix} {i}" for i in range(3)]
        for name in names:
            registry.create_registered_model(workspace, name, "", {})
        for _ in range(3):
            registry.create_model_version(workspace, names[0], source())

        def models(text: str, token: str | None = None) -> tuple[list[str], str | None]:
            page = registry.search_registered_models(
                workspace,
                filter_string=text,
                order_by=["name DESC"],
                max_results=2,
                page_token=token,
            )
            return [m.name for m in page.items], page.next_page_token

        first, token = models(f"name LIKE '{prefix}%'")
        assert first == [names[2], names[1]]
        assert models(f"name LIKE '{prefix}%'", token) == ([names[0]], None)
        # Double-quoted literals, as MLflow's UI writes them (issue 14).
        assert models(f'name IN ("{names[0]}", "{names[2]}")') == ([names[2], names[0]], None)
        assert models(f'name ILIKE "{prefix.upper()}%"')[0] == first
        assert code_of(lambda: models("description = 'x'")) is (ErrorCode.INVALID_PARAMETER_VALUE)
        versions = registry.search_model_versions(
            workspace,
            filter_string=f"name = '{names[0]}' and version_number >= 2",
            order_by=["version_number ASC"],
            max_results=10,
            page_token=None,
        )
        assert [v.version for v in versions.items] == [2, 3]
        assert versions.next_page_token is None
        quoted = registry.search_model_versions(
            workspace,
            filter_string=f'name = "{names[0]}" and version_number >= 2',
            order_by=["version_number ASC"],
            max_results=10,
            page_token=None,
        )
        assert [v.version for v in quoted.items] == [2, 3]
