"""MLflow's trace filter and order grammar, parsed into the store's conditions, and the trace shapes."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput
from loopml.server.mlflow.trace_search import parse_trace_filter, parse_trace_order
from loopml.server.mlflow.trace_wire import duration_ms, status_of_state, trace_info_v2, trace_info_v3
from loopml.store.entities import Trace, TraceStatus
from loopml.store.trace_queries import TraceCondition, TraceField, TraceOrder


def test_attributes_tags_metadata_and_aliases() -> None:
    parsed = parse_trace_filter(
        "attributes.status = 'OK' AND timestamp > 5 and trace.execution_time_ms <= 30 "
        "AND tags.`mlflow.traceName` != 'x' AND metadata.k IN ('a', 'b''c') AND name = \"f\" "
        "AND run_id NOT IN ('r') AND request_id = 'tr-1'"
    )
    assert parsed == [
        TraceCondition(field=TraceField.ATTRIBUTE, key="status", op="=", value="OK"),
        TraceCondition(field=TraceField.ATTRIBUTE, key="timestamp_ms", op=">", value=5),
        TraceCondition(field=TraceField.ATTRIBUTE, key="execution_time_ms", op="<=", value=30),
        TraceCondition(field=TraceField.TAG, key="mlflow.traceName", op="!=", value="x"),
        TraceCondition(field=TraceField.METADATA, key="k", op="IN", value=("a", "b'c")),
        TraceCondition(field=TraceField.TAG, key="mlflow.traceName", op="=", value="f"),
        TraceCondition(field=TraceField.METADATA, key="mlflow.sourceRun", op="NOT IN", value=("r",)),
        TraceCondition(field=TraceField.ATTRIBUTE, key="trace_id", op="=", value="tr-1"),
    ]
    assert parse_trace_filter("tags.note = 'x AND y'")[0].value == "x AND y"  # AND inside a string
    assert parse_trace_filter(None) == parse_trace_filter("  ") == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("colour = 'red'", "Unknown trace attribute 'colour'"),
        ("status > 'OK'", "compare it with =, !=, IN or NOT IN"),
        ("timestamp_ms = 'yesterday'", "compared with an integer"),
        ("tags.a = 1", "compared with a string"),
        ("status = 'OK' OR status = 'ERROR'", "OR is not supported"),
        ("status = ", "Invalid trace filter"),
        ("timestamp_ms IN ('1')", "list of strings"),
    ],
)
def test_bad_filters_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match="Example") as caught:
        parse_trace_filter(text)
    assert words in str(caught.value)


def test_order_keys_and_directions() -> None:
    assert parse_trace_order(["timestamp_ms DESC", "attributes.request_id", "execution_time asc"]) == [
        TraceOrder(key="timestamp_ms", ascending=False),
        TraceOrder(key="trace_id", ascending=True),
        TraceOrder(key="execution_time_ms", ascending=True),
    ]
    for bad in ("name", "timestamp_ms SIDEWAYS", "timestamp_ms ASC extra", ""):
        with pytest.raises(InvalidInput, match="Invalid trace order_by"):
            parse_trace_order([bad])


def test_shapes_of_the_two_apis() -> None:
    trace = Trace(
        trace_id="tr-1",
        experiment_id="e1",
        timestamp_ms=1_700_000_000_123,
        execution_time_ms=456,
        status=TraceStatus.OK,
        request_metadata={"mlflow.traceInputs": '{"a": 1}'},
        tags={"t": "v"},
    )
    v2 = trace_info_v2(trace)
    assert v2["status"] == "OK" and v2["execution_time_ms"] == 456
    assert {"key": "mlflow.artifactLocation", "value": "mlflow-artifacts:/e1/traces/tr-1/artifacts"} in v2[
        "tags"
    ]
    v3 = trace_info_v3(trace)
    assert (v3["request_time"], v3["execution_duration"], v3["state"]) == (
        "2023-11-14T22:13:20.123Z",
        "0.456s",
        "OK",
    )
    assert v3["request_preview"] == '{"a": 1}' and v3["trace_location"]["mlflow_experiment"] == {
        "experiment_id": "e1"
    }
    assert duration_ms("0.456s") == 456 and duration_ms(None) is None
    assert status_of_state("STATE_UNSPECIFIED") is TraceStatus.UNSPECIFIED
    with pytest.raises(InvalidInput, match="seconds"):
        duration_ms("5 minutes")
    with pytest.raises(InvalidInput, match="IN_PROGRESS"):
        status_of_state("DONE")
