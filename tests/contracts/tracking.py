"""The TrackingStore contract (store/tracking/base.py) as tests; every store must pass them.

A test module subclasses ``StoreContract`` and provides the ``store`` and ``workspace``
fixtures. Each test works in its own experiment(s) of that workspace.
"""

from __future__ import annotations

import math
import uuid

import pytest

from mlkube_operator.server.entities import (
    DatasetInput,
    DatasetSummary,
    LifecycleStage,
    LoggedModelStatus,
    Metric,
    ModelOutput,
    RunStatus,
    ViewType,
)
from mlkube_operator.server.errors import ErrorCode, MlflowError
from mlkube_operator.server.store.tracking.base import TrackingStore


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code_of(call: object) -> ErrorCode:
    with pytest.raises(MlflowError) as caught:
        call()  # type: ignore[operator]  # the tests pass lambdas
    return caught.value.code


class StoreContract:
    """Shared tests; fixtures ``store`` and ``workspace`` come from the subclass's module."""

    # -- experiments -------------------------------------------------------------------------

    def test_default_experiment_exists_with_id_zero(
        self, store: TrackingStore, workspace: str
    ) -> None:
        default = store.get_experiment(workspace, "0")
        assert default.name == "Default"
        assert default.lifecycle_stage is LifecycleStage.ACTIVE
        assert store.get_experiment_by_name(workspace, "Default").experiment_id == "0"

    def test_create_get_and_duplicate_name(self, store: TrackingStore, workspace: str) -> None:
        name = unique("/Users/ada/Churn Model")
        experiment_id = store.create_experiment(workspace, name, None, {"team": "risk"})
        assert experiment_id.isdigit()
        assert experiment_id != "0"
        got = store.get_experiment(workspace, experiment_id)
        assert got.name == name
        assert got.tags == {"team": "risk"}
        assert got.artifact_location == f"mlflow-artifacts:/{experiment_id}"
        assert store.get_experiment_by_name(workspace, name).experiment_id == experiment_id
        assert code_of(lambda: store.create_experiment(workspace, name, None, {})) is (
            ErrorCode.RESOURCE_ALREADY_EXISTS
        )

    def test_ids_are_distinct(self, store: TrackingStore, workspace: str) -> None:
        ids = {store.create_experiment(workspace, unique(), None, {}) for _ in range(3)}
        assert len(ids) == 3

    def test_unknown_experiment_is_not_found(self, store: TrackingStore, workspace: str) -> None:
        assert code_of(lambda: store.get_experiment(workspace, "987654321")) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        assert code_of(lambda: store.get_experiment_by_name(workspace, unique())) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    def test_rename_tags_delete_and_restore(self, store: TrackingStore, workspace: str) -> None:
        experiment_id = store.create_experiment(workspace, unique(), None, {})
        new_name = unique("renamed")
        store.rename_experiment(workspace, experiment_id, new_name)
        assert store.get_experiment(workspace, experiment_id).name == new_name
        assert store.get_experiment_by_name(workspace, new_name).experiment_id == experiment_id
        store.set_experiment_tag(workspace, experiment_id, "k", "v")
        store.set_experiment_tag(workspace, experiment_id, "mlflow.note.content", "notes")
        tags = store.get_experiment(workspace, experiment_id).tags
        assert tags == {"k": "v", "mlflow.note.content": "notes"}
        store.delete_experiment_tag(workspace, experiment_id, "k")
        assert "k" not in store.get_experiment(workspace, experiment_id).tags
        assert code_of(lambda: store.delete_experiment_tag(workspace, experiment_id, "k")) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        run = store.create_run(
            workspace, experiment_id, user_id="u", run_name=None, start_time=None, tags={}
        )
        store.delete_experiment(workspace, experiment_id)
        assert store.get_experiment(workspace, experiment_id).lifecycle_stage is (
            LifecycleStage.DELETED
        )
        assert store.get_run(workspace, run.info.run_id).info.lifecycle_stage is (
            LifecycleStage.DELETED
        )
        active = store.list_experiments(workspace, ViewType.ACTIVE_ONLY)
        deleted = store.list_experiments(workspace, ViewType.DELETED_ONLY)
        assert experiment_id not in {e.experiment_id for e in active}
        assert experiment_id in {e.experiment_id for e in deleted}
        assert (
            code_of(
                lambda: store.create_run(
                    workspace, experiment_id, user_id="u", run_name=None, start_time=None, tags={}
                )
            )
            is ErrorCode.INVALID_STATE
        )
        store.restore_experiment(workspace, experiment_id)
        assert store.get_run(workspace, run.info.run_id).info.lifecycle_stage is (
            LifecycleStage.ACTIVE
        )

    def test_default_cannot_be_deleted(self, store: TrackingStore, workspace: str) -> None:
        assert code_of(lambda: store.delete_experiment(workspace, "0")) is (
            ErrorCode.INVALID_PARAMETER_VALUE
        )

    # -- runs --------------------------------------------------------------------------------

    def _run(self, store: TrackingStore, workspace: str, **tags: str) -> tuple[str, str]:
        experiment_id = store.create_experiment(workspace, unique(), None, {})
        run = store.create_run(
            workspace,
            experiment_id,
            user_id="ada",
            run_name="first",
            start_time=1_700_000_000_000,
            tags=dict(tags),
        )
        return experiment_id, run.info.run_id

    def test_create_run(self, store: TrackingStore, workspace: str) -> None:
        experiment_id, run_id = self._run(store, workspace, source="nb")
        run = store.get_run(workspace, run_id)
        assert len(run_id) == 32
        assert run.info.experiment_id == experiment_id
        assert run.info.status is RunStatus.RUNNING
        assert run.info.run_name == "first"
        assert run.info.user_id == "ada"
        assert run.info.start_time == 1_700_000_000_000
        assert run.info.end_time is None
        assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
        assert run.tags == {"source": "nb", "mlflow.runName": "first"}

    def test_run_name_from_tag_or_generated(self, store: TrackingStore, workspace: str) -> None:
        experiment_id = store.create_experiment(workspace, unique(), None, {})
        tagged = store.create_run(
            workspace,
            experiment_id,
            user_id="",
            run_name=None,
            start_time=None,
            tags={"mlflow.runName": "from-tag"},
        )
        assert tagged.info.run_name == "from-tag"
        generated = store.create_run(
            workspace, experiment_id, user_id="", run_name=None, start_time=None, tags={}
        )
        assert generated.info.run_name
        assert generated.tags["mlflow.runName"] == generated.info.run_name
        assert (
            code_of(
                lambda: store.create_run(
                    workspace,
                    experiment_id,
                    user_id="",
                    run_name="a",
                    start_time=None,
                    tags={"mlflow.runName": "b"},
                )
            )
            is ErrorCode.INVALID_PARAMETER_VALUE
        )

    def test_log_batch_params_metrics_tags(self, store: TrackingStore, workspace: str) -> None:
        _, run_id = self._run(store, workspace)
        store.log_batch(
            workspace,
            run_id,
            [Metric("loss", 0.5, 10, 0), Metric("loss", 0.25, 20, 1), Metric("acc", 0.9, 5, 0)],
            {"alpha": "0.1"},
            {"stage": "train"},
        )
        run = store.get_run(workspace, run_id)
        assert run.params == {"alpha": "0.1"}
        assert run.tags["stage"] == "train"
        assert {k: (m.value, m.step) for k, m in run.metrics.items()} == {
            "loss": (0.25, 1),
            "acc": (0.9, 0),
        }

    def test_latest_metric_is_by_step_then_timestamp(
        self, store: TrackingStore, workspace: str
    ) -> None:
        _, run_id = self._run(store, workspace)
        store.log_batch(workspace, run_id, [Metric("m", 1.0, 100, 5)], {}, {})
        store.log_batch(workspace, run_id, [Metric("m", 2.0, 200, 3)], {}, {})
        assert store.get_run(workspace, run_id).metrics["m"].value == 1.0
        store.log_batch(workspace, run_id, [Metric("m", 3.0, 300, 5)], {}, {})
        assert store.get_run(workspace, run_id).metrics["m"].value == 3.0

    def test_params_are_immutable(self, store: TrackingStore, workspace: str) -> None:
        _, run_id = self._run(store, workspace)
        store.log_batch(workspace, run_id, [], {"p": "1"}, {})
        store.log_batch(workspace, run_id, [], {"p": "1"}, {})
        assert code_of(lambda: store.log_batch(workspace, run_id, [], {"p": "2"}, {})) is (
            ErrorCode.INVALID_PARAMETER_VALUE
        )
        assert store.get_run(workspace, run_id).params == {"p": "1"}

    def test_a_rejected_batch_changes_nothing(self, store: TrackingStore, workspace: str) -> None:
        _, run_id = self._run(store, workspace)
        store.log_batch(workspace, run_id, [], {"p": "1"}, {})
        with pytest.raises(MlflowError):
            store.log_batch(workspace, run_id, [Metric("x", 1.0, 1, 0)], {"p": "2"}, {"t": "v"})
        run = store.get_run(workspace, run_id)
        assert "x" not in run.metrics
        assert "t" not in run.tags
        assert store.get_metric_history(workspace, run_id, "x") == []

    def test_metric_history_is_ordered_and_collapses_duplicates(
        self, store: TrackingStore, workspace: str
    ) -> None:
        _, run_id = self._run(store, workspace)
        store.log_batch(
            workspace, run_id, [Metric("h", 3.0, 30, 2), Metric("h", 1.0, 10, 0)], {}, {}
        )
        store.log_batch(
            workspace, run_id, [Metric("h", 2.0, 20, 1), Metric("h", 1.0, 10, 0)], {}, {}
        )
        store.log_batch(workspace, run_id, [Metric("h", math.nan, 40, 3)], {}, {})
        history = store.get_metric_history(workspace, run_id, "h")
        assert [(m.step, m.timestamp) for m in history] == [(0, 10), (1, 20), (2, 30), (3, 40)]
        assert math.isnan(history[-1].value)
        assert math.isnan(store.get_run(workspace, run_id).metrics["h"].value)
        assert store.get_metric_history(workspace, run_id, "other") == []
        assert store.get_metric_history(workspace, "0" * 32, "h") == []

    def test_update_run_and_name(self, store: TrackingStore, workspace: str) -> None:
        _, run_id = self._run(store, workspace)
        info = store.update_run(workspace, run_id, RunStatus.FINISHED, 1_700_000_100_000, None)
        assert info.status is RunStatus.FINISHED
        assert info.end_time == 1_700_000_100_000
        info = store.update_run(workspace, run_id, None, None, "renamed")
        assert info.run_name == "renamed"
        assert info.status is RunStatus.FINISHED
        assert store.get_run(workspace, run_id).tags["mlflow.runName"] == "renamed"

    def test_set_and_delete_tags(self, store: TrackingStore, workspace: str) -> None:
        _, run_id = self._run(store, workspace)
        store.log_batch(workspace, run_id, [], {}, {"a": "1"})
        store.log_batch(workspace, run_id, [], {}, {"a": "2"})
        assert store.get_run(workspace, run_id).tags["a"] == "2"
        store.delete_tag(workspace, run_id, "a")
        assert "a" not in store.get_run(workspace, run_id).tags
        assert code_of(lambda: store.delete_tag(workspace, run_id, "a")) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    def test_delete_and_restore_run(self, store: TrackingStore, workspace: str) -> None:
        experiment_id, run_id = self._run(store, workspace)
        store.delete_run(workspace, run_id)
        assert store.get_run(workspace, run_id).info.lifecycle_stage is LifecycleStage.DELETED
        assert code_of(lambda: store.log_batch(workspace, run_id, [], {"p": "1"}, {})) is (
            ErrorCode.INVALID_STATE
        )

        def ids(view: ViewType) -> set[str]:
            return {r.info.run_id for r in store.list_runs(workspace, [experiment_id], view)}

        assert run_id not in ids(ViewType.ACTIVE_ONLY)
        assert run_id in ids(ViewType.DELETED_ONLY)
        assert run_id in ids(ViewType.ALL)
        store.restore_run(workspace, run_id)
        assert run_id in ids(ViewType.ACTIVE_ONLY)

    def test_unknown_run_is_not_found(self, store: TrackingStore, workspace: str) -> None:
        missing = "0" * 32
        assert code_of(lambda: store.get_run(workspace, missing)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        assert code_of(lambda: store.log_batch(workspace, missing, [], {"a": "b"}, {})) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    def test_inputs_and_outputs(self, store: TrackingStore, workspace: str) -> None:
        experiment_id, run_id = self._run(store, workspace)
        dataset = DatasetInput(
            "iris",
            "abc123",
            "local",
            '{"uri": "/data"}',
            '{"cols": []}',
            None,
            {"mlflow.data.context": "train"},
        )
        store.log_inputs(workspace, run_id, [dataset, dataset], [])
        store.log_inputs(workspace, run_id, [dataset], [])
        model = store.create_logged_model(
            workspace,
            experiment_id,
            name="m",
            source_run_id=run_id,
            model_type=None,
            params={},
            tags={},
        )
        store.log_outputs(workspace, run_id, [ModelOutput(model.model_id, 3)])
        run = store.get_run(workspace, run_id)
        assert run.datasets == (dataset,)
        assert run.model_outputs == (ModelOutput(model.model_id, 3),)

    def test_dataset_summaries(self, store: TrackingStore, workspace: str) -> None:
        experiment_id, first = self._run(store, workspace)
        second = store.create_run(
            workspace, experiment_id, user_id="", run_name=None, start_time=1, tags={}
        ).info.run_id
        train = DatasetInput("d", "1", "local", "{}", None, None, {"mlflow.data.context": "train"})
        bare = DatasetInput("e", "2", "local", "{}")
        store.log_inputs(workspace, first, [train], [])
        store.log_inputs(workspace, second, [bare, train], [])
        store.delete_run(workspace, second)

        found = store.dataset_summaries(workspace, [experiment_id, "987654321"])

        # The older run first; a repeat once; a deleted run's inputs too.
        assert found == [
            DatasetSummary(experiment_id, "e", "2", None),
            DatasetSummary(experiment_id, "d", "1", "train"),
        ]

    def test_many_large_params_are_all_kept(self, store: TrackingStore, workspace: str) -> None:
        """Beyond what one Kubernetes object holds (about 1.5 MiB): nothing may be lost."""
        _, run_id = self._run(store, workspace)
        value = "v" * 6000
        for batch in range(4):
            params = {f"p{batch}-{i:03d}": value for i in range(100)}
            store.log_batch(workspace, run_id, [], params, {})
        params = store.get_run(workspace, run_id).params
        assert len(params) == 400
        assert all(v == value for v in params.values())
        assert code_of(lambda: store.log_batch(workspace, run_id, [], {"p3-099": "x"}, {})) is (
            ErrorCode.INVALID_PARAMETER_VALUE
        )

    def test_many_metric_keys_are_all_kept(self, store: TrackingStore, workspace: str) -> None:
        _, run_id = self._run(store, workspace)
        keys = [f"{i:04d}-" + "k" * 240 for i in range(4000)]
        for start in range(0, len(keys), 1000):
            batch = [Metric(k, float(i), 1, 0) for i, k in enumerate(keys[start : start + 1000])]
            store.log_batch(workspace, run_id, batch, {}, {})
        store.log_batch(workspace, run_id, [Metric(keys[-1], 42.0, 2, 1)], {}, {})
        metrics = store.get_run(workspace, run_id).metrics
        assert len(metrics) == 4000
        assert metrics[keys[0]].value == 0.0
        assert metrics[keys[-1]].value == 42.0
        history = store.get_metric_history(workspace, run_id, keys[-1])
        assert [m.value for m in history] == [999.0, 42.0]

    def test_list_runs_by_experiment(self, store: TrackingStore, workspace: str) -> None:
        first, run_a = self._run(store, workspace)
        second, run_b = self._run(store, workspace)
        assert [r.info.run_id for r in store.list_runs(workspace, [first], ViewType.ALL)] == [run_a]
        both = store.list_runs(workspace, [first, second, "987654321"], ViewType.ALL)
        assert {r.info.run_id for r in both} == {run_a, run_b}

    def test_workspaces_are_separate(
        self, store: TrackingStore, workspace: str, other_workspace: str
    ) -> None:
        name = unique()
        mine = store.create_experiment(workspace, name, None, {})
        theirs = store.create_experiment(other_workspace, name, None, {})
        assert mine != theirs
        assert code_of(lambda: store.get_experiment(other_workspace, mine)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
        run = store.create_run(workspace, mine, user_id="", run_name=None, start_time=None, tags={})
        assert code_of(lambda: store.get_run(other_workspace, run.info.run_id)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    # -- logged models ------------------------------------------------------------------------

    def test_logged_model_lifecycle(self, store: TrackingStore, workspace: str) -> None:
        experiment_id, run_id = self._run(store, workspace)
        model = store.create_logged_model(
            workspace,
            experiment_id,
            name="clf",
            source_run_id=run_id,
            model_type="sklearn",
            params={"C": "1"},
            tags={"a": "b"},
        )
        assert model.model_id.startswith("m-")
        assert model.status is LoggedModelStatus.LOGGED_MODEL_PENDING
        assert (
            model.artifact_uri
            == f"mlflow-artifacts:/{experiment_id}/models/{model.model_id}/artifacts"
        )
        store.log_batch(
            workspace, run_id, [Metric("acc", 0.9, 1, 0, model_id=model.model_id)], {}, {}
        )
        ready = store.finalize_logged_model(
            workspace, model.model_id, LoggedModelStatus.LOGGED_MODEL_READY
        )
        assert ready.status is LoggedModelStatus.LOGGED_MODEL_READY
        tagged = store.set_logged_model_tags(workspace, model.model_id, {"c": "d"})
        assert tagged.tags == {"a": "b", "c": "d"}
        store.delete_logged_model_tag(workspace, model.model_id, "a")
        store.log_logged_model_params(workspace, model.model_id, {"gamma": "2"})
        got = store.get_logged_model(workspace, model.model_id)
        assert got.tags == {"c": "d"}
        assert got.params == {"C": "1", "gamma": "2"}
        assert [(m.key, m.value, m.run_id) for m in got.metrics] == [("acc", 0.9, run_id)]
        listed = store.list_logged_models(workspace, [experiment_id])
        assert [m.model_id for m in listed] == [model.model_id]
        store.delete_logged_model(workspace, model.model_id)
        assert code_of(lambda: store.get_logged_model(workspace, model.model_id)) is (
            ErrorCode.RESOURCE_DOES_NOT_EXIST
        )

    # -- search ---------------------------------------------------------------------------------

    def test_search_experiments_filters_orders_and_pages(
        self, store: TrackingStore, workspace: str
    ) -> None:
        prefix = unique("search")
        for i in range(5):
            store.create_experiment(workspace, f"{prefix}-{i}", None, {"team": "ab"[i % 2]})
        wanted = f"name LIKE '{prefix}-%' and tags.team = 'a'"

        def search(token: str | None, text: str = wanted) -> tuple[list[str], str | None]:
            page = store.search_experiments(
                workspace,
                ViewType.ACTIVE_ONLY,
                filter_string=text,
                order_by=["name DESC"],
                max_results=2,
                page_token=token,
            )
            return [e.name for e in page.items], page.next_page_token

        first, token = search(None)
        assert first == [f"{prefix}-4", f"{prefix}-2"]
        assert token is not None
        assert search(token) == ([f"{prefix}-0"], None)
        # Double-quoted literals, as MLflow's UI writes them (issue 14).
        assert search(None, f'name LIKE "{prefix}-%" and tags.team = "a"') == (first, token)
        assert code_of(lambda: search(None, "name ~ 'x'")) is ErrorCode.INVALID_PARAMETER_VALUE
        assert code_of(lambda: search("not-a-token")) is ErrorCode.INVALID_PARAMETER_VALUE

    def test_search_runs_by_metric_param_and_tag(
        self, store: TrackingStore, workspace: str
    ) -> None:
        experiment_id = store.create_experiment(workspace, unique(), None, {})
        runs = []
        for i, loss in enumerate((0.3, 0.1, 0.9)):
            run = store.create_run(
                workspace, experiment_id, user_id="u", run_name=f"r{i}", start_time=i, tags={}
            )
            store.log_batch(
                workspace, run.info.run_id, [Metric("loss", loss, 0, 0)], {"i": str(i)}, {}
            )
            runs.append(run.info.run_id)
        store.delete_run(workspace, runs[2])

        def search(text: str, order: list[str], view: ViewType = ViewType.ACTIVE_ONLY) -> list[str]:
            page = store.search_runs(
                workspace,
                [experiment_id],
                view,
                filter_string=text,
                order_by=order,
                max_results=10,
                page_token=None,
            )
            return [r.info.run_id for r in page.items]

        assert search("", []) == [runs[1], runs[0]]  # newest first; the deleted run left out
        assert search("metrics.loss < 0.5", ["metrics.loss ASC"]) == [runs[1], runs[0]]
        assert search("params.i = '0'", []) == [runs[0]]
        assert search('params.i = "0"', []) == [runs[0]]
        assert search('tags."mlflow.runName" LIKE "r%"', [], ViewType.ALL) == runs[::-1]
        assert search(f'attributes.run_id IN ("{runs[0]}", "{runs[1]}")', []) == runs[1::-1]
        assert search("tags.`mlflow.runName` = 'r2'", [], ViewType.ALL) == [runs[2]]
        assert search("", ["metrics.loss DESC"], ViewType.DELETED_ONLY) == [runs[2]]

    def test_search_logged_models(self, store: TrackingStore, workspace: str) -> None:
        experiment_id = store.create_experiment(workspace, unique(), None, {})
        ids = []
        for name in ("first", "second"):
            model = store.create_logged_model(
                workspace,
                experiment_id,
                name=name,
                source_run_id=None,
                model_type=None,
                params={},
                tags={"kind": name},
            )
            ids.append(model.model_id)

        def search(text: str, order: list[tuple[str, bool]], ids: list[str]) -> list[str]:
            page = store.search_logged_models(
                workspace,
                ids,
                filter_string=text,
                order_by=order,
                max_results=10,
                page_token=None,
            )
            return [m.name for m in page.items]

        assert search("", [("name", True)], [experiment_id]) == ["first", "second"]
        assert search("tags.kind = 'second'", [], [experiment_id]) == ["second"]
        assert search('tags.kind LIKE "sec%"', [], [experiment_id]) == ["second"]
        assert search("", [], ["987654321"]) == []
        assert code_of(lambda: search("", [], [])) is ErrorCode.INVALID_PARAMETER_VALUE
