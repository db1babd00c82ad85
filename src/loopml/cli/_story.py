"""How ``loopml demo`` prints the lifecycle story: one block per step, as it happens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml.cli._output import console, print_table

__all__ = ["print_step"]

_WINDOW_COLUMNS = ("start", "rows", "version", "estimated_accuracy", "accuracy", "label_coverage")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _windows(title: str, windows: Sequence[Mapping[str, Any]]) -> None:
    rows = [
        [*(_cell(w.get(c)) for c in _WINDOW_COLUMNS),
         ", ".join(f"{k} {v:.3f}" for k, v in dict(w.get("top_drift", {})).items())]
        for w in windows
    ]  # fmt: skip
    print_table(title, [*_WINDOW_COLUMNS, "largest drift"], rows)


def _versus(details: Mapping[str, Any]) -> str:
    """Candidate vs champion accuracy overall, from an evaluation step's recorded metrics."""
    metrics = dict(details.get("metrics") or {})
    overall = dict(dict(metrics.get("slices") or {}).get("overall") or {})
    mine, theirs = dict(overall.get("candidate") or {}), dict(overall.get("champion") or {})
    if "accuracy" not in mine:
        return "no figures"
    versus = f" vs the champion's {theirs['accuracy']:.3f}" if "accuracy" in theirs else ""
    return f"accuracy {mine['accuracy']:.3f}{versus} on {metrics.get('rows', '?')} held-out rows"


def _retrain(facts: Mapping[str, Any]) -> None:
    for step in facts.get("steps", ()):
        details = dict(step.get("details") or {})
        extra = ""
        if step["kind"] == "pipeline":
            extra = f" (run {details.get('pipeline_run')}, {details.get('training_rows')} labelled rows)"
        elif step["kind"] == "evaluation":
            extra = (
                f" ({_versus(details)}): {'; '.join(details.get('reasons', ())) or 'no worse on any slice'}"
            )
        elif step["kind"] == "canary":
            extra = f": {details.get('target')} at {details.get('weight')}%"
        console.print(f"    {step['kind']}: {step['outcome']}{extra}")
    if facts.get("alert_ids"):
        console.print(f"    linked alerts: {', '.join(facts['alert_ids'])}")


def _final(facts: Mapping[str, Any]) -> None:
    lineage = dict(facts.get("lineage") or {})
    console.print(
        f"  deployment {facts['deployment']} (revision {facts['revision']}): primary {facts['primary']}"
    )
    console.print(f"  lineage: datasets {', '.join(lineage.get('datasets', ())) or '-'}; "
                  f"training runs {', '.join(lineage.get('runs', ())) or '-'}")  # fmt: skip
    for r in facts.get("retrains", ()):
        console.print(f"  retraining {r['retrain_id']}: {r['state']} {r['candidate'] or ''} - {r['reason']}")
    for name, path in dict(facts.get("reports") or {}).items():
        console.print(f"  {name} report: {path}")
    console.print(
        f"  next: `loopml monitor windows {facts['deployment']} --window requests:500`, "
        f"`loopml monitor alerts {facts['deployment']}`, `loopml deploy history {facts['deployment']}`, "
        f"`loopml lineage {facts['model_artifact']} --depth 20`"
    )


def print_step(name: str, summary: str, facts: Mapping[str, Any]) -> None:
    """Print one step of the story."""
    colour = {"alert": "red", "final": "green", "verdict": "yellow", "previous": "yellow"}.get(name, "cyan")
    console.print(f"\n[bold {colour}]{name}[/] {summary}")
    if name in ("replay", "monitor") and facts.get("windows"):
        _windows(f"{name}: windows", facts["windows"])
    elif name == "retrain":
        _retrain(facts)
    elif name == "canary":
        for gate in facts.get("gates", ()):
            console.print(f"    gate {gate['gate']}: {gate['verdict']} ({gate['detail']})")
    elif name == "final":
        _final(facts)
