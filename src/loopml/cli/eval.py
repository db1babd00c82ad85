"""`loopml eval`: show an evaluation (metrics by slice and the verdict) and write its HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.analysis import EvaluationResult, MetricValue, load_evaluation, write_html
from loopml.cli import _context
from loopml.cli._errors import EXIT_CHECK_FAILED
from loopml.cli._output import console, print_json, print_table
from loopml.errors import InvalidInput, NotFound
from loopml.store import Artifact
from loopml.store.ids import is_id_prefix, resolve_artifact_id, resolve_run_id

app = typer.Typer(
    help="Inspect model evaluations: sliced metrics, thresholds and blessing.", no_args_is_help=True
)

_EvalRef = Annotated[
    str,
    typer.Argument(
        metavar="EVALUATION",
        help="An evaluation JSON file, an Evaluation artifact id, or a run id (its latest evaluation); "
        "ids may be unique prefixes.",
    ),
]
_EVALUATION_TYPE = "Evaluation"


def _evaluation_artifact(ref: str) -> Artifact:
    """The Evaluation artifact ``ref`` names: its own id, or a run whose latest evaluation it is."""
    store = _context.store()
    try:
        artifact = store.artifacts.get(resolve_artifact_id(store, ref))
    except NotFound:
        run_id = resolve_run_id(store, ref)
        found = store.artifacts.list(run_id=run_id, type=_EVALUATION_TYPE).items
        if not found:
            raise NotFound(
                f"Run {run_id} recorded no {_EVALUATION_TYPE} artifact; "
                f"`loopml artifacts list {run_id[:8]}` lists what it recorded."
            ) from None
        return found[-1]
    if artifact.type != _EVALUATION_TYPE:
        raise InvalidInput(
            f"Artifact {artifact.artifact_id} is a {artifact.type}, not an {_EVALUATION_TYPE}; "
            f"give an {_EVALUATION_TYPE} artifact id, a run id or an evaluation JSON file."
        )
    return artifact


def _load(ref: str) -> EvaluationResult:
    """The evaluation in a file, an Evaluation artifact, or the latest Evaluation of a run."""
    if Path(ref).exists() or not (is_id_prefix(ref.lower()) or len(ref) == 32):
        if not Path(ref).exists():
            raise NotFound(
                f"No evaluation file {ref!r} and it is not an id; give an evaluation JSON file, "
                "an Evaluation artifact id or a run id (`loopml artifacts list --type Evaluation`)."
            )
        return EvaluationResult.load(ref)
    return load_evaluation(_context.client().blobs, _evaluation_artifact(ref))


def _chosen_metrics(result: EvaluationResult, metrics: str | None) -> list[str]:
    """The metrics named by ``--metrics`` (all must exist), or the first five."""
    if not metrics:
        return list(result.metrics[:5])
    chosen = [m.strip() for m in metrics.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in result.metrics]
    if unknown:
        raise InvalidInput(
            f"--metrics: unknown metric {', '.join(map(repr, unknown))}; "
            f"this evaluation has {', '.join(result.metrics)}."
        )
    return chosen


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
    console.print()  # the verdict stands apart from the tables above
    if b is None:
        console.print("No thresholds: the model was not gated.")
        return
    console.print("[bold green]BLESSED[/]" if b.passed else "[bold red]NOT BLESSED[/]")
    for reason in b.reasons:
        console.print(f"  - {reason}", markup=False)


@app.command("show")
def show(
    evaluation: _EvalRef,
    metrics: Annotated[
        str | None, typer.Option("--metrics", help="Comma-separated metrics for the slice table.")
    ] = None,
    ci: Annotated[bool, typer.Option("--ci", help="Show confidence intervals in the slice table.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON.")] = False,
) -> None:
    """Print overall and per-slice metrics and the blessing (exit 1 when not blessed)."""
    result = _load(evaluation)
    chosen = _chosen_metrics(result, metrics)
    if as_json:
        print_json(result.to_dict())
        _finish(result)
        return
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
    evaluation: _EvalRef,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the HTML report.")],
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "Model evaluation",
) -> None:
    """Write the self-contained HTML report (charts inline, no network access needed)."""
    result = _load(evaluation)
    written = write_html(result, out, title=title)
    typer.echo(f"Wrote {written}")
