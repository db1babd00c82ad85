"""The store contract: every backend (SQLite, PostgreSQL, ...) must pass this suite unchanged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store import EventType, ExecutionState, LifecycleStage, Metric, RunStatus

TS = 1_700_000_000_000


def m(key: str, value: Any, step: int = 0, timestamp: int = TS) -> Metric:
    return Metric(key=key, value=value, step=step, timestamp=timestamp)


@pytest.fixture
def exp_id(store: Any) -> str:
    return str(store.experiments.create("contract").experiment_id)


@pytest.fixture
def run_id(store: Any, exp_id: str) -> str:
    return str(store.runs.create(exp_id, name="r").run_id)


# --- experiments -----------------------------------------------------------------------------


def test_experiment_create_get_list_and_tags(store: Any) -> None:
    exp = store.experiments.create("churn", tags={"team": "ml"})
    assert len(exp.experiment_id) == 32
    assert exp.tags == {"team": "ml"}
    assert store.experiments.get(exp.experiment_id) == exp
    assert store.experiments.get_by_name("churn") == exp
    assert store.experiments.find_by_name("nope") is None
    store.experiments.set_tag(exp.experiment_id, "team", "data")
    store.experiments.set_tag(exp.experiment_id, "owner", "ann")
    assert store.experiments.get(exp.experiment_id).tags == {"team": "data", "owner": "ann"}
    assert [e.name for e in store.experiments.list()] == ["churn"]


def test_experiment_name_conflict(store: Any) -> None:
    store.experiments.create("churn")
    with pytest.raises(Conflict, match="churn"):
        store.experiments.create("churn")


def test_get_or_create_is_idempotent(store: Any) -> None:
    first = store.experiments.get_or_create("x")
    assert store.experiments.get_or_create("x") == first
    assert len(store.experiments.list()) == 1


def test_experiment_delete_restore(store: Any) -> None:
    exp = store.experiments.create("gone")
    store.experiments.delete(exp.experiment_id)
    assert store.experiments.list() == []
    deleted = store.experiments.list(include_deleted=True)
    assert [e.lifecycle_stage for e in deleted] == [LifecycleStage.DELETED]
    with pytest.raises(InvalidState, match="restore"):
        store.experiments.get_or_create("gone")
    with pytest.raises(InvalidState, match="deleted"):
        store.runs.create(exp.experiment_id)
    store.experiments.restore(exp.experiment_id)
    assert store.experiments.get(exp.experiment_id).lifecycle_stage is LifecycleStage.ACTIVE


def test_experiment_rename(store: Any) -> None:
    exp = store.experiments.create("old-name")
    store.experiments.create("taken")
    renamed = store.experiments.rename(exp.experiment_id, "new-name")
    assert renamed.name == "new-name" and store.experiments.get_by_name("new-name") == renamed
    assert store.experiments.find_by_name("old-name") is None
    with pytest.raises(Conflict, match="taken"):
        store.experiments.rename(exp.experiment_id, "taken")
    with pytest.raises(InvalidInput):
        store.experiments.rename(exp.experiment_id, "a/b")
    with pytest.raises(NotFound, match="loopml experiments list"):
        store.experiments.rename("f" * 32, "whatever")


def test_run_tag_deletion(store: Any, run_id: str) -> None:
    store.runs.log_batch(run_id, tags={"keep": "1", "train/drop": "2"})
    store.runs.delete_tag(run_id, "train/drop")
    assert store.runs.get(run_id).tags == {"keep": "1"}
    with pytest.raises(NotFound, match="train/drop"):
        store.runs.delete_tag(run_id, "train/drop")
    store.runs.set_status(run_id, RunStatus.FINISHED)
    with pytest.raises(InvalidState):
        store.runs.delete_tag(run_id, "keep")


def test_experiment_unknown_ids(store: Any) -> None:
    for call in (
        lambda: store.experiments.get("f" * 32),
        lambda: store.experiments.get_by_name("nope"),
        lambda: store.experiments.delete("f" * 32),
        lambda: store.experiments.restore("f" * 32),
        lambda: store.experiments.set_tag("f" * 32, "k", "v"),
        lambda: store.runs.create("f" * 32),
    ):
        with pytest.raises(NotFound, match="loopml experiments list"):
            call()


@pytest.mark.parametrize("name", ["", "a/b", "a\\b", " lead", "trail ", ".", "..", "tab\there", "x" * 251])
def test_bad_experiment_names(store: Any, name: str) -> None:
    with pytest.raises(InvalidInput, match="experiment name"):
        store.experiments.create(name)


# --- runs --------------------------------------------------------------------------------------


def test_run_create_get_status(store: Any, exp_id: str) -> None:
    run = store.runs.create(exp_id, tags={"k": "v"}, start_time=TS)
    assert run.status is RunStatus.RUNNING and run.name and run.start_time == TS
    assert run.tags == {"k": "v"} and run.end_time is None
    child = store.runs.create(exp_id, name="child", parent_run_id=run.run_id)
    assert child.parent_run_id == run.run_id and child.name == "child"
    done = store.runs.set_status(run.run_id, RunStatus.FAILED, error="boom")
    assert done.status is RunStatus.FAILED and done.error == "boom" and done.end_time is not None
    ended = store.runs.set_status(child.run_id, RunStatus.FINISHED, end_time=TS + 5)
    assert ended.end_time == TS + 5
    assert store.runs.get(run.run_id) == done


def test_run_unknown_ids(store: Any, exp_id: str) -> None:
    unknown = "0" * 32
    for call in (
        lambda: store.runs.get(unknown),
        lambda: store.runs.set_status(unknown, RunStatus.FINISHED),
        lambda: store.runs.log_batch(unknown, metrics=[m("a", 1.0)]),
        lambda: store.runs.get_metric_history(unknown, "a"),
        lambda: store.runs.set_reproducibility(unknown, {}),
        lambda: store.runs.delete(unknown),
        lambda: store.runs.restore(unknown),
        lambda: store.runs.create(exp_id, parent_run_id=unknown),
    ):
        with pytest.raises(NotFound, match="loopml runs list") as info:
            call()
        assert unknown in str(info.value)


def test_log_batch_writes_everything(store: Any, run_id: str) -> None:
    store.runs.log_batch(
        run_id,
        metrics=[m("loss", 1.0, 0), m("loss", 0.5, 1), m("acc", np.float32(0.25), 0), m("n", 3)],
        params={"lr": "0.1", "model": "gbm"},
        tags={"team": "ml"},
    )
    run = store.runs.get(run_id)
    assert run.params == {"lr": "0.1", "model": "gbm"}
    assert run.tags == {"team": "ml"}
    assert run.metrics == {"loss": 0.5, "acc": 0.25, "n": 3.0}
    history = store.runs.get_metric_history(run_id, "loss")
    assert [(p.value, p.step) for p in history] == [(1.0, 0), (0.5, 1)]
    assert store.runs.get_metric_history(run_id, "missing") == []


def test_metric_histories_of_many_runs_in_one_call(store: Any, exp_id: str) -> None:
    a, b, c = (store.runs.create(exp_id, name=n).run_id for n in "abc")
    store.runs.log_batch(a, metrics=[m("loss", 2.0, 1), m("loss", 3.0, 0), m("acc", 0.5, 0)])
    store.runs.log_batch(b, metrics=[m("loss", 1.0, 5)])
    store.runs.log_batch(c, metrics=[m("acc", 0.9, 0)])
    found = store.runs.get_metric_histories([b, a, c, "0" * 32, a], "loss")
    assert set(found) == {a, b}  # no loss in c, the unknown run left out, no error
    assert [(p.step, p.value) for p in found[a]] == [(0, 3.0), (1, 2.0)]
    assert [(p.key, p.step, p.value) for p in found[b]] == [("loss", 5, 1.0)]
    assert found[a] == store.runs.get_metric_history(a, "loss")


def test_metric_histories_keep_nan_and_infinities(store: Any, run_id: str) -> None:
    points = [m("v", math.nan, 0), m("v", math.inf, 1), m("v", -math.inf, 2), m("v", 0.25, 3)]
    store.runs.log_batch(run_id, metrics=points)
    values = [p.value for p in store.runs.get_metric_histories([run_id], "v")[run_id]]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 0.25]
    assert all(isinstance(v, float) for v in values)


def test_metric_series_are_the_histories_as_columns(store: Any, exp_id: str) -> None:
    a, b, c = (store.runs.create(exp_id, name=n).run_id for n in "abc")
    points = [m("loss", 2.0, 1, TS + 5), m("loss", 3.0, 0), m("loss", math.nan, 1, TS + 1), m("acc", 0.5, 0)]
    store.runs.log_batch(a, metrics=points)
    store.runs.log_batch(b, metrics=[m("loss", math.inf, 5)])
    store.runs.log_batch(c, metrics=[m("acc", 0.9, 0)])
    found = store.runs.get_metric_series([b, a, c, "0" * 32, a], "loss")
    assert set(found) == {a, b}  # as get_metric_histories: runs without the key left out
    series = found[a]
    assert series.steps == [0, 1, 1] and series.timestamps == [TS, TS + 1, TS + 5]  # by step, then time
    assert series.values[0] == 3.0 and math.isnan(series.values[1]) and series.values[2] == 2.0
    assert (found[b].steps, found[b].values) == ([5], [math.inf])
    histories = store.runs.get_metric_histories([a, b], "loss")
    for run_id, history in histories.items():
        columns = found[run_id]
        assert [p.step for p in history] == columns.steps
        assert [p.timestamp for p in history] == columns.timestamps


def test_latest_metric_is_highest_step_then_time(store: Any, run_id: str) -> None:
    store.runs.log_batch(run_id, metrics=[m("x", 5.0, step=10, timestamp=TS)])
    store.runs.log_batch(run_id, metrics=[m("x", 1.0, step=3, timestamp=TS + 100)])
    assert store.runs.get(run_id).metrics["x"] == 5.0
    store.runs.log_batch(run_id, metrics=[m("x", 7.0, step=10, timestamp=TS + 1)])
    assert store.runs.get(run_id).metrics["x"] == 7.0
    store.runs.log_batch(run_id, metrics=[m("y", 2.0, 2), m("y", 9.0, 1)])
    assert store.runs.get(run_id).metrics["y"] == 2.0


def test_nan_and_inf_round_trip(store: Any, run_id: str) -> None:
    points = [m("v", math.nan, 0), m("v", math.inf, 1), m("v", -math.inf, 2), m("w", math.nan, 0)]
    store.runs.log_batch(run_id, metrics=points)
    values = [p.value for p in store.runs.get_metric_history(run_id, "v")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]
    run = store.runs.get(run_id)
    assert run.metrics["v"] == -math.inf and math.isnan(run.metrics["w"])


def test_param_immutable(store: Any, run_id: str) -> None:
    store.runs.log_batch(run_id, params={"lr": "0.1"})
    store.runs.log_batch(run_id, params={"lr": "0.1"})  # same value: no-op
    with pytest.raises(Conflict, match=r"'lr'.*'0\.1'.*'0\.2'"):
        store.runs.log_batch(run_id, params={"lr": "0.2"})
    assert store.runs.get(run_id).params == {"lr": "0.1"}


def test_tags_are_mutable(store: Any, run_id: str) -> None:
    store.runs.log_batch(run_id, tags={"t": "1"})
    store.runs.log_batch(run_id, tags={"t": "2"})
    assert store.runs.get(run_id).tags == {"t": "2"}


def test_batch_is_atomic(store: Any, run_id: str) -> None:
    bad = [*[m("ok", float(i), i) for i in range(10)], m("bad", "x")]
    with pytest.raises(InvalidInput, match="bad"):
        store.runs.log_batch(run_id, metrics=bad, params={"p": "1"})
    store.runs.log_batch(run_id, params={"lr": "1"})
    with pytest.raises(Conflict):
        store.runs.log_batch(run_id, metrics=[m("ok", 1.0)], params={"lr": "2"}, tags={"t": "x"})
    run = store.runs.get(run_id)
    assert run.metrics == {} and run.params == {"lr": "1"} and run.tags == {}
    assert store.runs.get_metric_history(run_id, "ok") == []


def test_large_batch(store: Any, run_id: str) -> None:
    store.runs.log_batch(run_id, metrics=[m(f"k{i % 7}", float(i), i) for i in range(1000)])
    assert store.runs.get(run_id).metrics["k0"] == 994.0
    assert len(store.runs.get_metric_history(run_id, "k3")) == 143


@pytest.mark.parametrize("status", [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED])
def test_logging_to_ended_run_is_refused(store: Any, run_id: str, status: RunStatus) -> None:
    store.runs.set_status(run_id, status)
    with pytest.raises(InvalidState, match=f"{status.value}; start a new run"):
        store.runs.log_batch(run_id, metrics=[m("a", 1.0)])


def test_deleted_run(store: Any, exp_id: str, run_id: str) -> None:
    store.runs.delete(run_id)
    assert store.runs.get(run_id).lifecycle_stage is LifecycleStage.DELETED
    with pytest.raises(InvalidState, match="deleted"):
        store.runs.log_batch(run_id, params={"a": "1"})
    assert store.runs.search([exp_id]).items == []
    assert len(store.runs.search([exp_id], include_deleted=True).items) == 1
    store.runs.restore(run_id)
    store.runs.log_batch(run_id, params={"a": "1"})
    assert store.runs.get(run_id).params == {"a": "1"}


def test_keys_may_be_namespaced_with_slashes(store: Any, run_id: str) -> None:
    store.runs.log_batch(run_id, metrics=[m("train/loss", 0.5)], params={"opt/lr": "0.1"}, tags={"a/b": "c"})
    run = store.runs.get(run_id)
    assert run.metrics == {"train/loss": 0.5} and run.params == {"opt/lr": "0.1"} and run.tags["a/b"] == "c"
    assert [p.value for p in store.runs.get_metric_history(run_id, "train/loss")] == [0.5]


def test_reproducibility_record(store: Any, run_id: str) -> None:
    record = {"git": {"commit": "abc", "dirty": False}, "seeds": [1, 2], "python": "3.11"}
    store.runs.set_reproducibility(run_id, record)
    assert store.runs.get(run_id).reproducibility == record
    with pytest.raises(InvalidInput, match="JSON"):
        store.runs.set_reproducibility(run_id, {"x": object()})


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"metrics": [m("a\\b", 1.0)]}, "path separator"),
        ({"metrics": [m("/a", 1.0)]}, "empty, '.' or '..' part"),
        ({"params": {"a//b": "x"}}, "empty, '.' or '..' part"),
        ({"tags": {"a/../b": "x"}}, "empty, '.' or '..' part"),
        ({"metrics": [m(" a", 1.0)]}, "whitespace"),
        ({"metrics": [m("a\nb", 1.0)]}, "control character"),
        ({"metrics": [m("k" * 300, 1.0)]}, "1 to 250"),
        ({"metrics": [m("a", True)]}, "real number"),
        ({"metrics": [m("a", "1.0")]}, "real number"),
        ({"metrics": [m("a", 1.0, step=1.5)]}, "integer"),  # type: ignore[arg-type]
        ({"params": {"..": "x"}}, "'.' or '..'"),
        ({"params": {"p": "x" * 6001}}, "6000"),
        ({"params": {"p": 1}}, "string"),
        ({"tags": {"t": "x" * 8001}}, "8000"),
        ({"tags": {"": "x"}}, "1 to 250"),
    ],
)
def test_bad_inputs(store: Any, run_id: str, kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        store.runs.log_batch(run_id, **kwargs)


def test_long_key_is_truncated_in_message(store: Any, run_id: str) -> None:
    with pytest.raises(InvalidInput) as info:
        store.runs.log_batch(run_id, params={"k" * 5000: "v"})
    assert len(str(info.value)) < 400


def test_limits_are_inclusive(store: Any, run_id: str) -> None:
    store.runs.log_batch(run_id, params={"k" * 250: "x" * 6000}, tags={"t": "y" * 8000})
    run = store.runs.get(run_id)
    assert run.params["k" * 250] == "x" * 6000 and run.tags["t"] == "y" * 8000


# --- search ------------------------------------------------------------------------------------


@pytest.fixture
def runs(store: Any, exp_id: str) -> dict[str, str]:
    """Five runs: a..e with auc, params and tags; 'e' lacks auc."""
    ids = {}
    specs = {
        "a": (0.9, "gbm", "ml"),
        "b": (0.7, "rf", "ml"),
        "c": (0.8, "gbm", "Data"),
        "d": (math.nan, "lr", "data"),
        "e": (None, "gbm", "ops"),
    }
    for i, (name, (auc, model, team)) in enumerate(specs.items()):
        run = store.runs.create(exp_id, name=name, start_time=TS + i)
        metrics = [] if auc is None else [m("auc", auc)]
        store.runs.log_batch(run.run_id, metrics=metrics, params={"model": model}, tags={"team": team})
        ids[name] = run.run_id
    store.runs.set_status(ids["b"], RunStatus.FINISHED)
    return ids


def names(page: Any) -> list[str]:
    return [r.name for r in page.items]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("metrics.auc > 0.75", {"a", "c"}),
        ("metrics.auc >= 0.8", {"a", "c"}),
        ("metrics.auc < 0.8", {"b"}),
        ("metrics.auc <= 0.8", {"b", "c"}),
        ("metrics.auc = 0.9", {"a"}),
        ("metrics.auc != 0.9", {"b", "c", "d"}),
        ("params.model = 'gbm'", {"a", "c", "e"}),
        ('params.model != "gbm"', {"b", "d"}),
        ("params.model LIKE 'g%'", {"a", "c", "e"}),
        ("tags.team LIKE 'd%'", {"d"}),
        ("tags.team ILIKE 'd%'", {"c", "d"}),
        ("params.model IN ('rf', 'lr')", {"b", "d"}),
        ("params.model NOT IN ('rf', 'lr')", {"a", "c", "e"}),
        ("status = 'FINISHED'", {"b"}),
        ("attributes.status != 'finished'", {"a", "c", "d", "e"}),
        ("run_name IN ('a', 'e')", {"a", "e"}),
        (f"start_time >= {TS + 3}", {"d", "e"}),
        ("metrics.auc > 0.75 and params.model = 'gbm'", {"a", "c"}),
        ("metrics.auc > 0.85 OR tags.team = 'ops'", {"a", "e"}),
        ("(metrics.auc < 0.75 or metrics.auc > 0.85) and tags.team = 'ml'", {"a", "b"}),
        ("metrics.missing > 0", set()),
        ("metrics.auc IS NULL", {"e"}),
        ("metrics.auc IS NOT NULL", {"a", "b", "c", "d"}),
        ("params.model is not null and tags.nope IS NULL", {"a", "b", "c", "d", "e"}),
        ("tags.team IS NULL or end_time IS NOT NULL", {"b"}),
        ("end_time IS NULL and metrics.auc > 0.75", {"a", "c"}),
        ("", {"a", "b", "c", "d", "e"}),
    ],
)
def test_search_filters(store: Any, exp_id: str, runs: dict[str, str], flt: str, expected: set[str]) -> None:
    assert set(names(store.runs.search([exp_id], filter=flt))) == expected


def test_search_by_dataset_inputs_of_the_reproducibility_record(store: Any, exp_id: str) -> None:
    mlflow_input = {
        "tags": [{"key": "mlflow.data.context", "value": "evaluation"}],
        "dataset": {"name": "holdout", "digest": "d9", "source_type": "local", "source": "x"},
    }
    records = {
        "own": {"datasets": [{"name": "train.csv", "sha256": "ab" * 32, "role": "training"}]},
        "mlflow": {"mlflow_dataset_inputs": [mlflow_input]},
        "both": {"datasets": [{"name": "train.csv"}], "mlflow_dataset_inputs": [mlflow_input]},
        "none": {"git": {"commit": "abc"}},
    }
    ids = {}
    for name, record in records.items():
        ids[name] = store.runs.create(exp_id, name=name).run_id
        store.runs.set_reproducibility(ids[name], record)

    def found(flt: str) -> set[str]:
        return set(names(store.runs.search([exp_id], filter=flt)))

    assert found("datasets.name = 'train.csv'") == {"own", "both"}
    assert found(f"datasets.digest = '{'ab' * 32}' or datasets.digest = 'd9'") == {"own", "mlflow", "both"}
    assert found("datasets.context IN ('evaluation')") == {"mlflow", "both"}
    assert found("datasets.context != 'evaluation'") == {"own"}  # an input without a context meets no test
    assert found("datasets.name NOT IN ('holdout')") == {"own", "both"}
    assert found("datasets.name = 'train.csv' and metrics.x IS NULL") == {"own", "both"}
    store.runs.set_reproducibility(ids["own"], {"datasets": []})  # a new record replaces the inputs
    assert found("datasets.name = 'train.csv'") == {"both"}


def test_search_backquoted_key_and_run_id(store: Any, exp_id: str, run_id: str) -> None:
    store.runs.log_batch(run_id, metrics=[m("my key", 2.0)])
    assert len(store.runs.search([exp_id], filter="metrics.`my key` = 2").items) == 1
    assert names(store.runs.search([exp_id], filter=f"attributes.run_id = '{run_id}'")) == ["r"]


def test_search_order_by(store: Any, exp_id: str, runs: dict[str, str]) -> None:
    by_auc_desc = names(store.runs.search([exp_id], order_by=["metrics.auc DESC"]))
    assert by_auc_desc == ["a", "c", "b", "d", "e"]  # NaN after numbers, missing last
    by_auc_asc = names(store.runs.search([exp_id], order_by=["metrics.auc ASC"]))
    assert by_auc_asc == ["b", "c", "a", "d", "e"]
    assert names(store.runs.search([exp_id])) == ["e", "d", "c", "b", "a"]  # newest first
    assert names(store.runs.search([exp_id], order_by=["start_time"])) == ["a", "b", "c", "d", "e"]
    by_model = names(store.runs.search([exp_id], order_by=["params.model", "run_name DESC"]))
    assert by_model == ["e", "c", "a", "d", "b"]


def test_search_pagination(store: Any, exp_id: str, runs: dict[str, str]) -> None:
    seen: list[str] = []
    token = None
    for _ in range(3):
        page = store.runs.search([exp_id], order_by=["start_time"], max_results=2, page_token=token)
        seen += names(page)
        token = page.next_page_token
    assert seen == ["a", "b", "c", "d", "e"] and token is None


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("order", ["metrics.auc DESC", "metrics.auc ASC"])
def test_search_pages_by_metric(store: Any, exp_id: str, runs: dict[str, str], size: int, order: str) -> None:
    """Pages walk numbers, then NaN, then runs lacking the metric, with no run lost or repeated."""
    store.runs.log_batch(runs["e"], metrics=[m("other", 1.0)])
    extra = store.runs.create(exp_id, name="f", start_time=TS + 9)
    store.runs.log_batch(extra.run_id, metrics=[m("auc", math.nan)])
    expected = names(store.runs.search([exp_id], order_by=[order, "run_name"]))
    numbers = ["a", "c", "b"] if order.endswith("DESC") else ["b", "c", "a"]
    assert expected == [*numbers, "d", "f", "e"]
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = store.runs.search([exp_id], order_by=[order, "run_name"], max_results=size, page_token=token)
        seen += names(page)
        token = page.next_page_token
        if token is None:
            break
    assert seen == expected
    filtered = store.runs.search([exp_id], filter="params.model = 'gbm'", order_by=[order], max_results=2)
    assert names(filtered) == [n for n in expected if n in {"a", "c", "e"}][:2]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_results": 0},
        {"max_results": 50_001},
        {"page_token": "not-a-token"},
        {"filter": "metrics.auc >"},
        {"filter": "metrics.auc LIKE 'x'"},
        {"order_by": ["metrics.auc SIDEWAYS"]},
    ],
)
def test_search_bad_arguments(store: Any, exp_id: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        store.runs.search([exp_id], **kwargs)


def test_search_injection_is_just_a_value(store: Any, exp_id: str, runs: dict[str, str]) -> None:
    flt = "params.model = 'x'' OR 1=1 --'"
    assert store.runs.search([exp_id], filter=flt).items == []
    assert len(store.runs.search([exp_id]).items) == 5


def test_search_spans_experiments(store: Any, exp_id: str, runs: dict[str, str]) -> None:
    other = store.experiments.create("other")
    store.runs.create(other.experiment_id, name="z")
    assert len(store.runs.search([exp_id, other.experiment_id]).items) == 6
    assert names(store.runs.search([other.experiment_id])) == ["z"]
    store.experiments.delete(other.experiment_id)
    assert len(store.runs.search([exp_id, other.experiment_id]).items) == 5


# --- artifacts ---------------------------------------------------------------------------------

SHA = "a" * 64


def test_artifact_create_get_versions(store: Any, run_id: str) -> None:
    first = store.artifacts.create(
        type="Dataset",
        name="train",
        uri="files/x",
        sha256=SHA,
        size=10,
        run_id=run_id,
        properties={"rows": 5},
        versioned=True,
    )
    second = store.artifacts.create(
        type="Dataset",
        name="train",
        uri="s3://b/k",
        sha256=None,
        size=None,
        is_reference=True,
        versioned=True,
    )
    assert (first.version, second.version) == (1, 2)
    assert store.artifacts.get(first.artifact_id) == first
    assert first.properties == {"rows": 5} and second.is_reference
    assert store.artifacts.find_version("Dataset", "train") == second
    assert store.artifacts.find_version("Dataset", "train", 1) == first
    assert store.artifacts.find_version("Dataset", "train", 7) is None
    assert store.artifacts.find_version("Dataset", "nope") is None
    plain = store.artifacts.create(type="Model", name="m", uri="u", sha256=SHA, size=1)
    assert plain.version is None
    assert store.artifacts.find_version("Model", "m") == plain


def test_artifact_list_and_paging(store: Any, run_id: str) -> None:
    for i in range(5):
        store.artifacts.create(
            type="File", name=f"f{i}", uri="u", sha256=SHA, size=i, run_id=run_id if i % 2 else None
        )
    assert len(store.artifacts.list(run_id=run_id).items) == 2
    assert [a.name for a in store.artifacts.list(name="f3").items] == ["f3"]
    first = store.artifacts.list(type="File", max_results=3)
    assert len(first.items) == 3 and first.next_page_token
    rest = store.artifacts.list(type="File", max_results=3, page_token=first.next_page_token)
    listed = [a.name for a in first.items + rest.items]  # oldest first; same-ms ties by id
    assert sorted(listed) == [f"f{i}" for i in range(5)]
    assert rest.next_page_token is None


def test_artifact_list_by_content_hash(store: Any, run_id: str) -> None:
    other = "b" * 64
    for name, sha in (("x", SHA), ("y", other), ("z", SHA), ("none", None)):
        store.artifacts.create(type="File", name=name, uri="u", sha256=sha, size=1, run_id=run_id)
    assert sorted(a.name for a in store.artifacts.list(sha256=SHA).items) == ["x", "z"]
    assert [a.name for a in store.artifacts.list(sha256=other, run_id=run_id).items] == ["y"]
    assert store.artifacts.list(sha256="c" * 64).items == []
    first = store.artifacts.list(sha256=SHA, max_results=1)
    assert len(first.items) == 1 and first.next_page_token
    rest = store.artifacts.list(sha256=SHA, max_results=1, page_token=first.next_page_token)
    assert sorted(a.name for a in first.items + rest.items) == ["x", "z"] and rest.next_page_token is None


def test_artifact_errors(store: Any) -> None:
    with pytest.raises(NotFound, match="loopml artifacts list"):
        store.artifacts.get("f" * 32)
    with pytest.raises(NotFound, match="loopml runs list"):
        store.artifacts.create(type="t", name="n", uri="u", sha256=None, size=None, run_id="f" * 32)
    with pytest.raises(InvalidInput, match="sha256"):
        store.artifacts.create(type="t", name="n", uri="u", sha256="xyz", size=None)
    with pytest.raises(InvalidInput, match="size"):
        store.artifacts.create(type="t", name="n", uri="u", sha256=None, size=-1)
    with pytest.raises(InvalidInput, match="max_results"):
        store.artifacts.list(max_results=0)


# --- lineage -----------------------------------------------------------------------------------


def _artifact(store: Any, name: str) -> str:
    return str(store.artifacts.create(type="Dataset", name=name, uri="u", sha256=SHA, size=1).artifact_id)


def test_execution_lifecycle(store: Any, run_id: str) -> None:
    exe = store.lineage.create_execution(
        type="component",
        name="train",
        run_id=run_id,
        params={"lr": 0.1},
        code_version="abc",
        cache_key="key1",
    )
    assert exe.state is ExecutionState.RUNNING and exe.ended_at is None
    assert store.lineage.get_execution(exe.execution_id) == exe
    assert store.lineage.find_run_execution(run_id) == exe
    assert store.lineage.find_cached_execution("key1") is None
    done = store.lineage.finish_execution(exe.execution_id, ExecutionState.COMPLETE, properties={"x": 1})
    assert done.state is ExecutionState.COMPLETE and done.ended_at is not None
    assert done.properties == {"x": 1} and done.params == {"lr": 0.1}
    assert store.lineage.find_cached_execution("key1") == done
    with pytest.raises(InvalidState, match="already COMPLETE"):
        store.lineage.finish_execution(exe.execution_id, ExecutionState.FAILED)
    with pytest.raises(NotFound):
        store.lineage.get_execution("f" * 32)
    assert store.lineage.find_run_execution("f" * 32) is None


def test_events_walk_both_ways(store: Any) -> None:
    data, model = _artifact(store, "data"), _artifact(store, "model")
    exe = store.lineage.create_execution(type="component", name="train")
    events = store.lineage.add_events(
        exe.execution_id, [(data, EventType.INPUT, "examples"), (model, EventType.OUTPUT, "model")]
    )
    assert [e.type for e in events] == [EventType.INPUT, EventType.OUTPUT]
    assert store.lineage.list_events(execution_id=exe.execution_id) == events
    produced = store.lineage.list_events(artifact_id=model)
    assert [(e.execution_id, e.role) for e in produced] == [(exe.execution_id, "model")]
    with pytest.raises(NotFound, match="artifact"):
        store.lineage.add_events(exe.execution_id, [("f" * 32, EventType.INPUT, "x")])
    with pytest.raises(NotFound, match="execution"):
        store.lineage.add_events("f" * 32, [(data, EventType.INPUT, "x")])
    assert len(store.lineage.list_events(execution_id=exe.execution_id)) == 2


def test_contexts(store: Any) -> None:
    ctx = store.lineage.create_context(type="pipeline_run", name="p1", properties={"n": 1})
    assert store.lineage.get_context(ctx.context_id) == ctx
    assert store.lineage.find_context("pipeline_run", "p1") == ctx
    assert store.lineage.find_context("pipeline_run", "nope") is None
    with pytest.raises(Conflict):
        store.lineage.create_context(type="pipeline_run", name="p1")
    exe = store.lineage.create_execution(type="c", name="e", state=ExecutionState.CACHED)
    assert exe.ended_at is not None
    art = _artifact(store, "a")
    store.lineage.attach(ctx.context_id, execution_ids=[exe.execution_id], artifact_ids=[art])
    store.lineage.attach(ctx.context_id, execution_ids=[exe.execution_id], artifact_ids=[art])
    assert store.lineage.list_context_executions(ctx.context_id) == [exe]
    assert [a.artifact_id for a in store.lineage.list_context_artifacts(ctx.context_id)] == [art]
    other = store.lineage.create_context(type="experiment", name="e")
    assert sorted(store.lineage.list_contexts(), key=lambda c: c.name) == [other, ctx]
    assert store.lineage.list_contexts(type="experiment") == [other]
    with pytest.raises(NotFound):
        store.lineage.attach(ctx.context_id, artifact_ids=["f" * 32])
    with pytest.raises(NotFound):
        store.lineage.get_context("f" * 32)


# --- opening -----------------------------------------------------------------------------------


def test_reopen_keeps_data(store: Any, store_backend: Any, store_url: str) -> None:
    exp = store.experiments.create("kept")
    again = store_backend.open(store_url)
    try:
        assert again.experiments.get(exp.experiment_id) == exp
    finally:
        again.close()


@pytest.mark.parametrize("name", ["\uff0e\uff0e/x", "%c0%ae%c0%ae/x", "..;/x", "../x", "a/..\\b"])
def test_artifact_names_that_traverse_are_refused(store: Any, name: str) -> None:
    with pytest.raises(InvalidInput, match=r"artifact name .* is refused"):
        store.artifacts.create(type="File", name=name, uri="notes/x", sha256=None, size=None)
    assert store.artifacts.list().items == []
