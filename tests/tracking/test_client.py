"""The tracking client: run statuses, buffering, params, metrics, artifacts and search."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loopml.config import Settings
from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store.entities import EventType, ExecutionState, RunStatus
from loopml.tracking import Client


def test_run_finishes_on_normal_exit(client: Client) -> None:
    with client.start_run("exp", "ok") as run:
        client.log_param(run.run_id, "a", 1)
    stored = client.get_run(run.run_id)
    assert stored.status is RunStatus.FINISHED
    assert stored.end_time is not None and stored.end_time >= stored.start_time
    assert stored.error is None
    execution = client.store.lineage.find_run_execution(run.run_id)
    assert execution is not None and execution.state is ExecutionState.COMPLETE


def test_exception_fails_the_run_records_error_and_reraises(client: Client) -> None:
    with pytest.raises(ZeroDivisionError), client.start_run("exp") as run:
        1 / 0  # noqa: B018
    stored = client.get_run(run.run_id)
    assert stored.status is RunStatus.FAILED
    assert stored.error is not None
    assert stored.error.startswith("ZeroDivisionError: division by zero")
    assert "Traceback" in stored.error
    execution = client.store.lineage.find_run_execution(run.run_id)
    assert execution is not None and execution.state is ExecutionState.FAILED


def test_keyboard_interrupt_kills_the_run(client: Client) -> None:
    with pytest.raises(KeyboardInterrupt), client.start_run("exp") as run:
        raise KeyboardInterrupt
    assert client.get_run(run.run_id).status is RunStatus.KILLED


def test_ending_twice_is_refused(client: Client) -> None:
    run = client.start_run("exp")
    client.end_run(run.run_id)
    with pytest.raises(InvalidState, match="already ended"):
        client.end_run(run.run_id)


def test_nested_runs_record_their_parent(client: Client) -> None:
    with client.start_run("exp", "parent") as parent:
        with client.start_run("exp", "child", nested=True) as child:
            assert client.active_run() is not None
            assert client.active_run().run_id == child.run_id  # type: ignore[union-attr]
        explicit = client.start_run("exp", "other", parent_run_id=parent.run_id)
        client.end_run(explicit.run_id)
        assert client.active_run().run_id == parent.run_id  # type: ignore[union-attr]
    assert client.get_run(child.run_id).parent_run_id == parent.run_id
    assert client.get_run(explicit.run_id).parent_run_id == parent.run_id
    assert client.get_run(parent.run_id).parent_run_id is None
    assert client.active_run() is None


def test_nested_without_active_run_is_refused(client: Client) -> None:
    with pytest.raises(InvalidState, match="nested=True"):
        client.start_run("exp", nested=True)


def test_metrics_are_buffered_until_flush(tmp_path: Path) -> None:
    client = Client(Settings(home=tmp_path, metric_flush_size=10_000))
    try:
        run = client.start_run("exp")
        for step in range(5):
            client.log_metric(run.run_id, "loss", 1.0 / (step + 1), step=step)
        assert client.store.runs.get_metric_history(run.run_id, "loss") == []
        client.flush()
        history = client.store.runs.get_metric_history(run.run_id, "loss")
        assert [m.step for m in history] == [0, 1, 2, 3, 4]
        assert history[0].value == 1.0
    finally:
        client.close()


def test_buffer_flushes_when_full_and_at_run_end(tmp_path: Path) -> None:
    client = Client(Settings(home=tmp_path, metric_flush_size=3))
    try:
        run = client.start_run("exp")
        client.log_metric(run.run_id, "m", 1.0)
        client.log_metric(run.run_id, "m", 2.0, step=1)
        assert client.store.runs.get_metric_history(run.run_id, "m") == []
        client.log_metric(run.run_id, "m", 3.0, step=2)
        assert len(client.store.runs.get_metric_history(run.run_id, "m")) == 3
        client.log_metric(run.run_id, "m", 4.0, step=3)
        client.end_run(run.run_id)
        assert len(client.store.runs.get_metric_history(run.run_id, "m")) == 4
    finally:
        client.close()


def test_reads_through_the_client_see_pending_points(client: Client) -> None:
    run = client.start_run("exp")
    client.log_metrics(run.run_id, {"a": 0.5, "b": 2}, step=3)
    stored = client.get_run(run.run_id)
    assert stored.metrics == {"a": 0.5, "b": 2.0}
    assert client.get_metric_history(run.run_id, "a")[0].step == 3


def test_hundred_thousand_points_all_arrive(client: Client) -> None:
    n = 100_000
    with client.start_run("exp") as run:
        for i in range(n):
            client.log_metric(run.run_id, "x", float(i), step=i, timestamp=1_700_000_000_000 + i)
    history = client.get_metric_history(run.run_id, "x")
    assert len(history) == n
    assert sorted(m.step for m in history) == list(range(n))
    assert client.get_run(run.run_id).metrics["x"] == float(n - 1)


def test_param_values_are_immutable(client: Client) -> None:
    run = client.start_run("exp")
    client.log_param(run.run_id, "lr", 0.1)
    client.log_param(run.run_id, "lr", 0.1)  # same value again is fine
    with pytest.raises(Conflict, match="lr"):
        client.log_param(run.run_id, "lr", 0.2)
    assert client.get_run(run.run_id).params == {"lr": "0.1"}


@pytest.mark.parametrize("value", ["0.5", None, True, [1.0]])
def test_non_numeric_metric_is_refused_at_the_call(client: Client, value: object) -> None:
    run = client.start_run("exp")
    with pytest.raises(InvalidInput, match="must be a real number"):
        client.log_metric(run.run_id, "acc", value)  # type: ignore[arg-type]


def test_bad_metric_key_is_refused_at_the_call(client: Client) -> None:
    run = client.start_run("exp")
    with pytest.raises(InvalidInput, match="key"):
        client.log_metric(run.run_id, "", 1.0)


def test_nan_and_inf_are_stored(client: Client) -> None:
    with client.start_run("exp") as run:
        client.log_metrics(run.run_id, {"nan": math.nan, "inf": math.inf, "ninf": -math.inf})
    metrics = client.get_run(run.run_id).metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf
    assert metrics["ninf"] == -math.inf


def test_tags_can_change(client: Client) -> None:
    run = client.start_run("exp", tags={"team": "a"})
    client.set_tag(run.run_id, "team", "b")
    client.set_tags(run.run_id, {"stage": 1})
    tags = client.get_run(run.run_id).tags
    assert tags["team"] == "b"
    assert tags["stage"] == "1"


def test_log_artifact_file_and_directory(client: Client, tmp_path: Path) -> None:
    single = tmp_path / "notes.txt"
    single.write_text("hello")
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "b.txt").write_text("b")
    with client.start_run("exp") as run:
        [one] = client.log_artifact(run.run_id, single)
        many = client.log_artifact(run.run_id, folder, type="Model")
    assert one.name == "notes.txt" and one.size == 5 and one.run_id == run.run_id
    assert [a.name for a in many] == ["model/a.bin", "model/sub/b.txt"]
    assert {a.type for a in many} == {"Model"}
    listed = {a.artifact_id for a in client.list_artifacts(run.run_id)}
    assert listed == {one.artifact_id, *(a.artifact_id for a in many)}
    execution = client.store.lineage.find_run_execution(run.run_id)
    assert execution is not None
    events = client.store.lineage.list_events(execution_id=execution.execution_id)
    assert {e.artifact_id for e in events if e.type is EventType.OUTPUT} == listed
    out = client.download_artifact(many[1].artifact_id, tmp_path / "dl")
    assert out.read_text() == "b"


def test_log_artifact_missing_path_names_it(client: Client, tmp_path: Path) -> None:
    run = client.start_run("exp")
    missing = tmp_path / "nope.csv"
    with pytest.raises(InvalidInput, match=r"nope\.csv"):
        client.log_artifact(run.run_id, missing)


def test_log_artifact_to_finished_run_is_refused(client: Client, tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    with client.start_run("exp") as run:
        pass
    with pytest.raises(InvalidState, match="RUNNING"):
        client.log_artifact(run.run_id, f)


def test_log_dict_and_text_round_trip(client: Client, tmp_path: Path) -> None:
    payload = {"a": 1, "b": [1.5, "x"], "c": {"d": None}}
    with client.start_run("exp") as run:
        as_json = client.log_dict(run.run_id, payload, "conf.json")
        as_yaml = client.log_dict(run.run_id, payload, "conf.yaml")
        text = client.log_text(run.run_id, "héllo\n", "notes.md")
    assert (
        json.loads(client.download_artifact(as_json.artifact_id, tmp_path / "c.json").read_text()) == payload
    )
    assert (
        yaml.safe_load(client.download_artifact(as_yaml.artifact_id, tmp_path / "c.yaml").read_text())
        == payload
    )
    got = client.download_artifact(text.artifact_id, tmp_path)
    assert got == tmp_path / "notes.md"
    assert got.read_text(encoding="utf-8") == "héllo\n"
    for art in (as_json, as_yaml, text):
        assert client.verify_artifact(art.artifact_id).sha256 == art.sha256


def test_log_dict_refuses_unserialisable(client: Client) -> None:
    run = client.start_run("exp")
    with pytest.raises(InvalidInput, match=r"conf\.json"):
        client.log_dict(run.run_id, {"x": object()}, "conf.json")


def test_log_input_is_recorded_in_lineage_and_reproducibility(client: Client, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    dataset = client.create_artifact(data, type="Dataset")
    with client.start_run("exp") as run:
        client.log_input(run.run_id, dataset.artifact_id, role="train")
    record = client.get_run(run.run_id).reproducibility
    [entry] = record["datasets"]
    assert entry["artifact_id"] == dataset.artifact_id
    assert entry["sha256"] == dataset.sha256
    assert entry["role"] == "train"
    execution = client.store.lineage.find_run_execution(run.run_id)
    assert execution is not None
    [event] = client.store.lineage.list_events(artifact_id=dataset.artifact_id)
    assert (event.execution_id, event.type, event.role) == (execution.execution_id, EventType.INPUT, "train")


def test_search_runs_filter_order_and_pages(client: Client) -> None:
    for i in range(7):
        with client.start_run("search", f"r{i}") as run:
            client.log_params(run.run_id, {"kind": "even" if i % 2 == 0 else "odd"})
            client.log_metric(run.run_id, "score", float(i))
    page = client.search_runs(
        "search", filter="metrics.score >= 2", order_by="metrics.score DESC", max_results=3
    )
    assert [r.name for r in page.items] == ["r6", "r5", "r4"]
    assert page.next_page_token is not None
    rest = client.search_runs(
        ["search"],
        filter="metrics.score >= 2",
        order_by=["metrics.score DESC"],
        page_token=page.next_page_token,
    )
    assert [r.name for r in rest.items] == ["r3", "r2"]
    evens = client.search_runs("search", filter="params.kind = 'even'")
    assert sorted(r.name for r in evens.items) == ["r0", "r2", "r4", "r6"]
    by_id = client.search_runs(client.get_experiment_by_name("search").experiment_id)
    assert len(by_id.items) == 7


def test_search_runs_unknown_experiment(client: Client) -> None:
    with pytest.raises(NotFound, match="nope"):
        client.search_runs("nope")


def test_experiments(client: Client) -> None:
    exp = client.create_experiment("mine", tags={"owner": "me"})
    assert client.get_experiment(exp.experiment_id).name == "mine"
    assert client.get_experiment_by_name("mine").experiment_id == exp.experiment_id
    assert "mine" in {e.name for e in client.list_experiments()}
    with pytest.raises(Conflict):
        client.create_experiment("mine")


def test_open_runs_are_finished_at_exit(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "last_value", raising=False)
    run = client.start_run("exp")
    client.log_metric(run.run_id, "m", 1.0)
    client._at_exit()
    stored = client.store.runs.get(run.run_id)
    assert stored.status is RunStatus.FINISHED
    assert stored.metrics == {"m": 1.0}


def test_script_that_crashes_leaves_a_failed_run(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(
        "import sys\n"
        "from loopml.config import Settings\n"
        "from loopml.tracking import Client\n"
        f"client = Client(Settings(home={str(tmp_path / 'home')!r}))\n"
        "run = client.start_run('exp')\n"
        "client.log_metric(run.run_id, 'm', 2.0)\n"
        "print(run.run_id, flush=True)\n"
        "raise RuntimeError('boom')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "boom" in done.stderr
    client = Client(Settings(home=tmp_path / "home"))
    try:
        stored = client.get_run(done.stdout.strip())
    finally:
        client.close()
    assert stored.status is RunStatus.FAILED
    assert stored.error is not None and stored.error.startswith("RuntimeError: boom")
    assert stored.metrics == {"m": 2.0}
