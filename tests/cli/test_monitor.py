"""``loopml monitor run|windows|status|report`` over a synthetic prediction log under the home folder."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Invoke
from tests.monitor.simulate import log_hour

NOW = "2026-03-03T00:00:00+00:00"


def test_run_windows_status_and_report(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    logs = [log_hour(home / "predictions", h, n=200) for h in range(3)]
    (home / "predictions" / "model=churn" / "hour=2026-03-01T02" / "part-bad.parquet").write_bytes(b"junk")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "request_id,label\n" + "".join(f"{i},{t}\n" for i, t in zip(logs[0].ids, logs[0].truth, strict=True))
    )
    assert invoke("feedback", "add", "--model", "churn", str(labels)).code == 0

    ran = invoke("monitor", "run", "churn", "--model", "--now", NOW, "--slice", "city", "--json")
    assert ran.code == 0, ran.err
    computed = json.loads(ran.out)["computed"]
    assert [w["start"] for w in computed] == [f"2026-03-01T0{h}:00:00+00:00" for h in range(3)]
    assert computed[0]["metrics"]["label_coverage"] == 1.0 and not computed[2]["complete"]
    assert "part-bad.parquet" in computed[2]["problems"][0]
    registered = json.loads(ran.out)["log_versions"]  # closed hours become versions of the log dataset
    assert [v["ref"] for v in registered] == ["predictions.churn@1", "predictions.churn@2"]
    assert computed[0]["log_versions"] == ["predictions.churn@1"] and computed[2]["log_versions"] == []
    assert "hour=2026-03-01T02" in json.loads(ran.out)["log_problems"][0]  # the corrupt hour: reported
    again = json.loads(invoke("monitor", "run", "--now", NOW, "--json").out)
    assert again["computed"] == [] and again["log_versions"] == []
    assert "predictions.churn" in invoke("data", "list").out
    window_lineage = json.loads(invoke("lineage", computed[0]["lineage"], "--json").out)
    assert any(n["label"] == "predictions.churn v1" for n in window_lineage["nodes"])

    listed = invoke("monitor", "windows", "churn", "--model", "--metric", "accuracy", "--metric", "drift.x")
    assert listed.code == 0 and "drift.x" in listed.out
    as_json = json.loads(invoke("monitor", "windows", "churn", "--model", "--json").out)
    assert len(as_json["items"]) == 3

    shown = invoke("monitor", "status", "churn", "--model")
    assert shown.code == 0, shown.err
    assert "200 stored, 200 joined, 0 pending" in shown.out and "incomplete 2026-03-01T02" in shown.out
    state = json.loads(invoke("monitor", "status", "churn", "--model", "--json").out)
    assert state["latest"]["start"] == "2026-03-01T02:00:00+00:00" and len(state["incomplete"]) == 1

    page = tmp_path / "churn.html"
    written = invoke("monitor", "report", "churn", "--model", "--output", str(page))
    assert written.code == 0, written.err
    text = page.read_text()
    assert "Drift per feature" in text and "estimated accuracy" in text and "Label coverage" in text


def test_bad_input_exits_2_with_a_hint(invoke: Invoke, home: Path) -> None:
    log_hour(home / "predictions", 0, n=20)
    bad = invoke("monitor", "run", "churn", "--model", "--window", "weekly")
    assert bad.code == 2 and "requests:N" in bad.err
    early = invoke("monitor", "run", "churn", "--model", "--now", "2026-03-01T00:30:00Z")
    assert early.code == 0 and "No hour window was due for churn" in early.out
    missing = invoke("monitor", "report", "churn", "--model")
    assert missing.code != 0 and "loopml monitor run churn" in missing.err
    unknown = invoke("monitor", "status", "nothing", "--model")
    assert unknown.code != 0 and "Nothing is monitored" in unknown.err


def test_run_evaluates_alert_rules_and_posts_them_to_a_webhook(
    invoke: Invoke, home: Path, tmp_path: Path
) -> None:
    import http.server
    import threading

    received: list[dict[str, object]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for h in range(3):
        log_hour(home / "predictions", h, n=200, shift=2.0 if h == 2 else 0.0)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "churn.yaml").write_text(
        "rules:\n  - {name: moved, metric: drift.x, above: 0.1, severity: critical}\n"
    )
    try:
        ran = invoke(
            "monitor", "run", "churn", "--model", "--now", NOW, "--rules", str(rules),
            "--webhook", f"http://127.0.0.1:{server.server_port}/hook", "--json",
        )  # fmt: skip
    finally:
        server.shutdown()
    assert ran.code == 0, ran.err
    new = json.loads(ran.out)["alerts"]["new"]
    assert [(a["rule"], a["metric"], a["severity"]) for a in new] == [("moved", "drift.x", "critical")]
    assert [(e["event"], e["alert"]["rule"]) for e in received] == [("firing", "moved")]
    prom = tmp_path / "alerts.prom"
    exported = invoke("monitor", "run", "churn", "--model", "--now", NOW, "--rules", str(rules),
                      "--prometheus-file", str(prom))  # fmt: skip
    assert exported.code == 0, exported.err
    assert (
        'loopml_monitor_alert_active{deployment="churn",rule="moved",severity="critical"} 1.0'
        in prom.read_text()
    )
    listed = invoke("monitor", "alerts", "churn", "--open", "--json")
    assert [a["rule"] for a in json.loads(listed.out)["items"]] == ["moved"]
    again = invoke("monitor", "run", "churn", "--model", "--now", NOW, "--rules", str(rules), "--json")
    assert json.loads(again.out)["alerts"]["new"] == []  # recorded once
    typo = tmp_path / "typo"
    typo.mkdir()
    (typo / "churn.yaml").write_text("rules:\n  - {name: x, metric: drift.x, abvoe: 0.1}\n")
    bad = invoke("monitor", "run", "churn", "--model", "--now", NOW, "--rules", str(typo))
    assert bad.code == 2 and "rules[0].abvoe" in bad.err


def test_watch_repeats_run_until_told_to_stop(invoke: Invoke, home: Path) -> None:
    for h in range(2):
        log_hour(home / "predictions", h, n=50)
    watched = invoke("monitor", "watch", "churn", "--model", "--every", "1s", "--times", "2", "--json")
    assert watched.code == 0, watched.err
    passes = [json.loads(line) for line in watched.out.splitlines() if line.startswith("{")]
    assert [len(p["computed"]) for p in passes] == [2, 0]  # the second pass finds nothing new
    bad = invoke("monitor", "watch", "--every", "soon")
    assert bad.code == 2 and "7d" in bad.err


def test_windows_and_report_show_the_slice_that_drifted(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    for h in range(4):  # x moves in the last hour for the rows of Paris only
        log_hour(home / "predictions", h, shift=1.5 if h == 3 else 0.0, shift_city="paris")
    ran = invoke("monitor", "run", "churn", "--model", "--now", NOW, "--slice", "city", "--json")
    assert ran.code == 0, ran.err
    last = json.loads(ran.out)["computed"][-1]["metrics"]
    assert last["slice.city=paris.drift_features"] == 1.0 and last["slice_drift_features"] == 1.0

    listed = invoke("monitor", "windows", "churn", "--model")
    assert listed.code == 0 and "slice_drift_features" in listed.out
    assert "slice drift 2026-03-01 03:00: city=paris (x)" in listed.out
    assert "city=nice" not in listed.out and "city=lyon" not in listed.out

    page = tmp_path / "churn.html"
    assert invoke("monitor", "report", "churn", "--model", "--output", str(page)).code == 0
    text = page.read_text()
    assert "Drift per slice and feature" in text and "city=paris · x" in text
    assert "Windows where a slice drifted" in text and "city=paris (1 feature)" in text
