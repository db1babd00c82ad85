"""`loopml eval`: show an evaluation (metrics by slice and the verdict) and write its HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.analysis import EvaluationResult, MetricValue, write_html
from loopml.cli._errors import EXIT_CHECK_FAILED
from loopml.cli._output import console, print_json, print_table

app = typer.Typer(
    help="Inspect model evaluations: sliced metrics, thresholds and blessing.", no_args_is_help=True
)

_EvalFile = Annotated[Path, typer.Argument(help="An evaluation JSON file (EvaluationResult.save).")]


def _cell(m: MetricValue | None, *, ci: bool = True) -> str:
    if m is None:
        return ""
    if m.value is None:
        return f"n/a ({m.reason})" if m.reason else "n/a"
    if not ci or m.lower is None or m.upper is None:
        return f"{m.value:.4g}"
    return f"{m.value:.4g} [{m.lower:.3g}, {m.upper:.3g}]"


def _finish(result: EvaluationResult) -> None:
    """Exit 1 when the model was not blessed (SystemExit: typer.Exit codes are dropped by `main`)."""
    if result.blessing is not None and not result.blessing.passed:
        raise SystemExit(EXIT_CHECK_FAILED)


def _print_overall(result: EvaluationResult) -> None:
    overall = result.overall
    rows = []
    for name in result.metrics:
        base = overall.baseline.get(name)
        value = overall.value(name)
        delta = "" if base is None or value is None else f"{value - base:+.4g}"
        rows.append([name, _cell(overall.metrics.get(name)), "" if base is None else f"{base:.4g}", delta])
    print_table(f"Overall ({overall.count} examples)", ["metric", "value [CI]", "baseline", "change"], rows)


def _print_slices(result: EvaluationResult, metrics: list[str], *, ci: bool) -> None:
    rows = []
    for s in result.slices[1:]:
        small = [f"too small (< {result.min_slice_size})"]
        cells = [_cell(s.metrics.get(m), ci=ci) for m in metrics] if s.is_evaluated else small
        rows.append([s.key, str(s.count), *cells])
    if rows:
        print_table("Slices", ["slice", "count", *metrics], rows)


def _print_verdict(result: EvaluationResult) -> None:
    b = result.blessing
    if b is None:
        console.print("No thresholds: the model was not gated.")
        return
    console.print("[bold green]BLESSED[/]" if b.passed else "[bold red]NOT BLESSED[/]")
    for reason in b.reasons:
        console.print(f"  - {reason}", markup=False)


@app.command("show")
def show(
    path: _EvalFile,
    metrics: Annotated[
        str | None, typer.Option("--metrics", help="Comma-separated metrics for the slice table.")
    ] = None,
    ci: Annotated[bool, typer.Option("--ci", help="Show confidence intervals in the slice table.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON.")] = False,
) -> None:
    """Print overall and per-slice metrics and the blessing (exit 1 when not blessed)."""
    result = EvaluationResult.load(path)
    if as_json:
        print_json(result.to_dict())
        _finish(result)
        return
    chosen = [m.strip() for m in metrics.split(",")] if metrics else list(result.metrics[:5])
    _print_overall(result)
    _print_slices(result, chosen, ci=ci)
    if result.fairness:
        rows = [[g.spec, g.metric, f"{g.difference:.4g}", "" if g.ratio is None else f"{g.ratio:.4g}",
                 f"{g.max_slice} / {g.min_slice}"] for g in result.fairness]  # fmt: skip
        print_table(
            "Fairness gaps", ["slices of", "metric", "max - min", "min / max", "max / min slice"], rows
        )
    _print_verdict(result)
    _finish(result)


@app.command("report")
def report(
    path: _EvalFile,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the HTML report.")],
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "Model evaluation",
) -> None:
    """Write the self-contained HTML report (charts inline, no network access needed)."""
    result = EvaluationResult.load(path)
    written = write_html(result, out, title=title)
    typer.echo(f"Wrote {written}")
