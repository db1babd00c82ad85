"""``loopml runs``: list, show, compare and reproduce tracked runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli import _context
from loopml.cli._output import console, format_ms, print_json, print_table
from loopml.store.entities import Run
from loopml.tracking import reproduction_steps

app = typer.Typer(help="Tracked runs: list, show, compare, reproduce.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _duration(run: Run) -> str:
    if run.end_time is None:
        return ""
    return f"{(run.end_time - run.start_time) / 1000:.1f}s"


@app.command("list")
def list_runs(
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name or id (repeatable).")
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", help="e.g. \"metrics.auc > 0.8 and params.model = 'gbm'\".")
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", help="e.g. 'metrics.auc DESC' (repeatable).")
    ] = None,
    max_results: Annotated[int, typer.Option("--max-results", help="Runs per page.")] = 100,
    page_token: Annotated[str | None, typer.Option("--page-token", help="Token of the next page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List runs (of every experiment unless --experiment is given)."""
    client = _context.client()
    chosen = experiment or [e.experiment_id for e in client.list_experiments()]
    page = client.search_runs(
        chosen,
        filter=filter,
        order_by=order_by or (),
        max_results=max_results,
        page_token=page_token,
    )
    if as_json:
        print_json({"runs": page.items, "next_page_token": page.next_page_token})
        return
    metric_keys = sorted({k for r in page.items for k in r.metrics})[:6]
    rows = [
        (
            r.run_id,
            r.name,
            r.status,
            format_ms(r.start_time),
            _duration(r),
            *(_num(r.metrics.get(k)) for k in metric_keys),
        )
        for r in page.items
    ]
    print_table("Runs", ["id", "name", "status", "started", "duration", *metric_keys], rows)
    if page.next_page_token:
        console.print(f"More: --page-token {page.next_page_token}")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _seconds(value: object) -> str:
    return f"{value:.2f}s" if isinstance(value, int | float) else ""


def _repro_summary(record: dict[str, Any]) -> list[tuple[str, Any]]:
    git = record.get("git") or {}
    python = record.get("python") or {}
    host = record.get("host") or {}
    res = record.get("resources") or {}
    return [
        ("git commit", f"{git.get('commit')}{' (dirty)' if git.get('is_dirty') else ''}" if git else "none"),
        ("entry point", record.get("entry_point")),
        ("python", f"{python.get('implementation', '')} {python.get('version', '')}".strip()),
        ("packages", len(record.get("packages") or [])),
        (
            "host",
            f"{host.get('hostname')} ({host.get('cpu_count')} CPUs, GPUs: {len(host.get('gpus') or [])})",
        ),
        ("seeds", record.get("seeds")),
        (
            "datasets",
            ", ".join(f"{d.get('name')} {str(d.get('sha256'))[:12]}" for d in record.get("datasets", [])),
        ),
        ("wall / cpu", _seconds(res.get("wall_seconds")) + " / " + _seconds(res.get("cpu_seconds"))),
        (
            "peak memory",
            f"{(res.get('peak_rss_bytes') or 0) / 2**20:.0f} MiB" if res.get("peak_rss_bytes") else "",
        ),
    ]


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="Run id.")], as_json: JsonOpt = False) -> None:
    """Show a run: status, params, latest metrics, tags, reproducibility summary, artifacts."""
    client = _context.client()
    run = client.get_run(run_id)
    artifacts = client.list_artifacts(run_id)
    if as_json:
        print_json({"run": run, "artifacts": artifacts})
        return
    overview = [
        ("id", run.run_id),
        ("name", run.name),
        ("experiment", run.experiment_id),
        ("status", run.status),
        ("parent", run.parent_run_id),
        ("started", format_ms(run.start_time)),
        ("duration", _duration(run)),
        *_repro_summary(dict(run.reproducibility)),
    ]
    print_table(f"Run {run.name}", ["field", "value"], overview)
    print_table("Params", ["key", "value"], sorted(run.params.items()))
    print_table("Metrics (latest)", ["key", "value"], [(k, _num(v)) for k, v in sorted(run.metrics.items())])
    print_table("Tags", ["key", "value"], sorted(run.tags.items()))
    print_table(
        "Artifacts",
        ["id", "type", "name", "size", "sha256"],
        [(a.artifact_id, a.type, a.name, a.size, (a.sha256 or "")[:16]) for a in artifacts],
    )
    if run.error:
        console.print(f"[red]Error:[/] {run.error.splitlines()[0]}")


@app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")], as_json: JsonOpt = False
) -> None:
    """Compare runs side by side; rows whose values differ are highlighted."""
    client = _context.client()
    runs = [client.get_run(r) for r in run_ids]
    if as_json:
        print_json({"runs": runs})
        return
    rows: list[tuple[str, ...]] = []
    sections: list[tuple[str, list[Mapping[str, Any]]]] = [
        ("param", [r.params for r in runs]),
        ("metric", [r.metrics for r in runs]),
    ]
    for section, maps in sections:
        for key in sorted({k for m in maps for k in m}):
            values = [m.get(key) for m in maps]
            shown = [_num(v) if isinstance(v, float) else ("" if v is None else str(v)) for v in values]
            mark = "[bold yellow]" if len(set(shown)) > 1 else ""
            rows.append((f"{mark}{section} {key}", *(f"{mark}{s}" for s in shown)))
    print_table("Compare runs", ["", *(f"{r.name} {r.run_id[:8]}" for r in runs)], rows)


@app.command("reproduce")
def reproduce(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    requirements_out: Annotated[
        Path | None, typer.Option("--requirements-out", help="Write the package list to this file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the steps that re-run a run: commit, Python, packages, command line, seeds, datasets."""
    run = _context.client().get_run(run_id)
    plan = reproduction_steps(
        run.reproducibility, requirements_file=str(requirements_out) if requirements_out else None
    )
    if requirements_out is not None:
        requirements_out.write_text(plan.requirements, encoding="utf-8")
    if as_json:
        print_json(plan)
        return
    for warning in plan.warnings:
        console.print(f"[yellow]Warning:[/] {warning}")
    for number, step in enumerate(plan.steps, start=1):
        console.print(f"{number}. {step}", markup=False)
