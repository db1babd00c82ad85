"""Input and output metrics: per-feature missing, atypical and string-length counts, predicted-class
counts, score histograms and null outputs, counted off the request path and exposed on /metrics."""

from __future__ import annotations

import numpy as np

from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy
from loopml.inference.inputs import ModelInput
from loopml.serving import ModelSource, load_served_model
from loopml.serving.dataplane import InferenceResult
from loopml.serving.guards import ModelGuards
from loopml.serving.io_metrics import MAX_CLASSES, IOMetrics
from loopml.serving.metrics import ServingMetrics
from tests.serving.conftest import Models
from tests.serving.test_guards import _serve


def _value(exposition: str, prefix: str) -> float:
    lines = [line for line in exposition.splitlines() if line.startswith(prefix + " ")]
    assert len(lines) == 1, (
        prefix,
        [line for line in exposition.splitlines() if prefix.split("{")[0] in line],
    )
    return float(lines[0].rsplit(" ", 1)[1])


def test_input_and_output_metrics_of_a_mixed_model(models: Models) -> None:
    metrics = ServingMetrics()
    sink = IOMetrics(metrics, flush_interval_s=3600)  # counted when flushed below
    guards = {"mixed": ModelGuards(atypical=AtypicalCheck(policy=AtypicalPolicy.FLAG))}
    rows = [
        {"age": 30, "income": 50.0, "city": "paris"},
        {"age": 500, "income": 40.0, "city": "berlin"},
        {"age": 45, "income": 61.0, "city": "lyon"},
    ]
    with _serve(
        models, ModelSource(uri="models:/mixed@champion"), guards=guards, sinks=[sink], metrics=metrics
    ) as c:
        answer = c.post("/invocations", json={"dataframe_records": rows})
        assert answer.status_code == 200, answer.text
        predicted = answer.json()["predictions"]
        sink.flush()
        text = c.get("/metrics").text
    assert _value(text, 'loopml_serving_feature_values_total{feature="city",model="mixed"}') == 3
    assert 'loopml_serving_feature_missing_total{feature="income"' not in text  # none missing
    assert _value(text, 'loopml_serving_feature_string_chars_total{feature="city",model="mixed"}') == 15
    assert _value(text, 'loopml_serving_feature_string_values_total{feature="city",model="mixed"}') == 3
    assert (
        _value(
            text, 'loopml_serving_feature_atypical_total{feature="age",model="mixed",reason="out_of_range"}'
        )
        == 1
    )
    assert (
        _value(text, 'loopml_serving_feature_atypical_total{feature="city",model="mixed",reason="unseen"}')
        == 1
    )
    for label in set(map(str, predicted)):
        expected = sum(1 for p in predicted if str(p) == label)
        assert (
            _value(
                text,
                f'loopml_serving_predicted_class_total{{class="{label}",model="mixed",output="predict"}}',
            )
            == expected
        )


def test_class_probabilities_fill_the_score_histogram_and_nulls_are_counted(models: Models) -> None:
    metrics = ServingMetrics()
    sink = IOMetrics(metrics, flush_interval_s=3600)
    x = models.numeric_x[:5]
    body = {
        "inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP64", "data": x.reshape(-1).tolist()}],
        "outputs": [{"name": "predict_proba"}],
    }
    with _serve(models, ModelSource(uri="models:/numeric@champion"), sinks=[sink], metrics=metrics) as c:
        assert c.post("/v2/models/numeric/infer", json=body).status_code == 200
        sink.flush()
        text = c.get("/metrics").text
    count = _value(text, 'loopml_serving_output_score_count{model="numeric",output="predict_proba"}')
    assert count == 5
    top = models.numeric.predict_proba(x).max(axis=1)
    total = _value(text, 'loopml_serving_output_score_sum{model="numeric",output="predict_proba"}')
    assert abs(total - top.sum()) < 1e-9


def test_missing_inputs_are_counted_per_feature(models: Models) -> None:
    metrics = ServingMetrics()
    sink = IOMetrics(metrics, flush_interval_s=3600)
    model = load_served_model(ModelSource(uri="models:/mixed@champion"), registry=models.registry)
    rows = ModelInput(
        n_rows=3,
        columns={
            "age": np.array([30, 41, 52]),
            "income": np.array([50.0, np.nan, np.nan]),
            "city": np.array(["paris", None, "nice"], dtype=object),
        },
    )
    sink.record(
        InferenceResult(request_id="r", model=model, outputs={}, latency_s=0.0),
        rows,
        protocol="v2",
        principal=None,
    )
    sink.flush()
    text = metrics.exposition().decode()
    assert _value(text, 'loopml_serving_feature_missing_total{feature="income",model="mixed"}') == 2
    assert _value(text, 'loopml_serving_feature_missing_total{feature="city",model="mixed"}') == 1
    assert _value(text, 'loopml_serving_feature_string_values_total{feature="city",model="mixed"}') == 2
    assert 'loopml_serving_feature_missing_total{feature="age"' not in text


def test_class_labels_are_bounded_and_null_outputs_counted(models: Models) -> None:
    metrics = ServingMetrics()
    sink = IOMetrics(metrics)
    sink._count_output("m", "label", np.array([str(i) for i in range(MAX_CLASSES + 20)], dtype=object))
    sink._count_output("m", "value", np.array([1.0, np.nan, 2.0]))
    sink.close()
    text = metrics.exposition().decode()
    classes = [line for line in text.splitlines() if line.startswith("loopml_serving_predicted_class_total{")]
    assert len(classes) == MAX_CLASSES + 1  # the first 100 labels, then one _other
    assert _value(text, 'loopml_serving_predicted_class_total{class="_other",model="m",output="label"}') == 20
    assert _value(text, 'loopml_serving_null_outputs_total{model="m",output="value"}') == 1


def test_requests_counted_in_one_flush_add_up_whatever_their_kinds(models: Models) -> None:
    metrics = ServingMetrics()
    sink = IOMetrics(metrics, flush_interval_s=3600)
    model = load_served_model(ModelSource(uri="models:/mixed@champion"), registry=models.registry)
    requests = [
        ({"age": np.array([30, 41]), "income": np.array([np.nan, 2.0]), "city": np.array(["paris", "lyon"])},
         np.array(["a", "b"], dtype=object)),
        ({"age": np.array([52.0]), "income": np.array([None], dtype=object), "city": np.array([None], dtype=object)},  # noqa: E501
         np.array(["a"], dtype=object)),
        ({"age": np.array([7]), "income": np.array([1.0]), "city": np.array([3], dtype=object)},
         np.array([None], dtype=object)),
    ]  # fmt: skip
    for i, (columns, labels) in enumerate(requests):
        sink.record(
            InferenceResult(request_id=str(i), model=model, outputs={"predict": labels}, latency_s=0.0),
            ModelInput(n_rows=len(labels), columns=columns),
            protocol="v2",
            principal=None,
        )
    sink.flush()  # the three requests counted together
    text = metrics.exposition().decode()
    assert _value(text, 'loopml_serving_feature_values_total{feature="age",model="mixed"}') == 4
    assert _value(text, 'loopml_serving_feature_missing_total{feature="income",model="mixed"}') == 2
    assert _value(text, 'loopml_serving_feature_missing_total{feature="city",model="mixed"}') == 1
    # "paris" and "lyon" are strings; the number 3 sent for city is not counted as one
    assert _value(text, 'loopml_serving_feature_string_values_total{feature="city",model="mixed"}') == 2
    assert _value(text, 'loopml_serving_feature_string_chars_total{feature="city",model="mixed"}') == 9
    assert _value(text, 'loopml_serving_predicted_class_total{class="a",model="mixed",output="predict"}') == 2
    assert _value(text, 'loopml_serving_predicted_class_total{class="b",model="mixed",output="predict"}') == 1
    assert _value(text, 'loopml_serving_null_outputs_total{model="mixed",output="predict"}') == 1


def test_class_labels_of_any_kind_are_counted_as_their_text() -> None:
    metrics = ServingMetrics()
    sink = IOMetrics(metrics, flush_interval_s=3600)
    sink._count_output("m", "ints", np.array([1, 0, 1, 1]))
    sink._count_output("m", "bools", np.array([True, False, True]))
    sink._count_output("m", "mixed", np.array([1, "1", "a", 2.5], dtype=object))  # unsortable together
    text = metrics.exposition().decode()
    assert _value(text, 'loopml_serving_predicted_class_total{class="1",model="m",output="ints"}') == 3
    assert _value(text, 'loopml_serving_predicted_class_total{class="0",model="m",output="ints"}') == 1
    assert _value(text, 'loopml_serving_predicted_class_total{class="True",model="m",output="bools"}') == 2
    assert _value(text, 'loopml_serving_predicted_class_total{class="1",model="m",output="mixed"}') == 2
    assert _value(text, 'loopml_serving_predicted_class_total{class="2.5",model="m",output="mixed"}') == 1


def _score_lines(metrics: ServingMetrics) -> list[str]:
    text = metrics.exposition().decode()
    return [line for line in text.splitlines() if line.startswith("loopml_serving_output_score_")
            and "_created" not in line]  # fmt: skip


def test_scores_observed_in_bulk_fill_the_buckets_observe_would() -> None:
    scores = np.array([[0.05, 0.95], [0.5, 0.5], [0.3, 0.7], [0.0, 1.0], [0.6, 0.4], [0.2, 0.8]])
    bulk, one_by_one = ServingMetrics(), ServingMetrics()
    IOMetrics(bulk, flush_interval_s=3600)._count_output("m", "proba", scores)
    for top in scores.max(axis=1).tolist():
        one_by_one.output_score.labels("m", "proba").observe(top)
    lines = _score_lines(bulk)
    assert 'loopml_serving_output_score_bucket{le="0.5",model="m",output="proba"} 1.0' in lines
    assert 'loopml_serving_output_score_bucket{le="0.8",model="m",output="proba"} 4.0' in lines
    assert lines == _score_lines(one_by_one)
