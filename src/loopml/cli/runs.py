"""``loopml runs``: list, show, compare, reproduce, delete and restore tracked runs; metric histories."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli import _context
from loopml.cli._output import (
    console,
    format_ms,
    iso_ms,
    print_json,
    print_listing,
    print_note,
    print_table,
    sparkline,
)
from loopml.errors import NotFound
from loopml.store.entities import Run
from loopml.store.ids import MIN_PREFIX, resolve_experiment_id, resolve_run_id

app = typer.Typer(
    help="Tracked runs: list, show, compare, reproduce, delete, restore; metric histories.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id or a unique prefix of it.")]
RunsArg = Annotated[list[str], typer.Argument(metavar="RUN...", help="Run ids or unique prefixes.")]


def resolve(ref: str) -> str:
    """The full id of the run ``ref`` names (full id or unique prefix).

    A pipeline run's id (from ``loopml pipeline runs``) is not a tracked run's; the error says
    which command shows it.
    """
    store = _context.store()
    try:
        return resolve_run_id(store, ref)
    except NotFound as err:
        # Loaded on this error path only: the pipeline package is not needed to read runs.
        from loopml.pipeline.runner import PIPELINE_RUN_TYPE

        prefix = ref.lower()
        pipelines = store.lineage.list_contexts(type=PIPELINE_RUN_TYPE)
        if len(prefix) >= MIN_PREFIX and any(c.context_id.startswith(prefix) for c in pipelines):
            raise NotFound(
                f"{ref!r} is a pipeline run, not a tracked run; `loopml pipeline show {ref}` shows it."
            ) from err
        raise


def nested(runs: list[Run]) -> list[tuple[int, Run]]:
    """Runs with their depth: each child right under its parent (when the parent is in ``runs``)."""
    present = {r.run_id for r in runs}
    children: dict[str, list[Run]] = {}
    roots: list[Run] = []
    for r in runs:
        if r.parent_run_id in present and r.parent_run_id != r.run_id:
            children.setdefault(r.parent_run_id, []).append(r)
        else:
            roots.append(r)
    ordered: list[tuple[int, Run]] = []
    seen: set[str] = set()

    def add(run: Run, depth: int) -> None:
        if run.run_id in seen:
            return
        seen.add(run.run_id)
        ordered.append((depth, run))
        for child in children.get(run.run_id, []):
            add(child, depth + 1)

    for r in roots:
        add(r, 0)
    for r in runs:  # a cycle of parents has no root; show those runs flat rather than drop them
        add(r, 0)
    return ordered


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
    include_deleted: Annotated[bool, typer.Option("--all", help="Include deleted runs.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List runs (of every experiment unless --experiment is given); child runs sit under their parent."""
    store = _context.store()
    if experiment:
        chosen = [resolve_experiment_id(store, e) for e in experiment]
    else:
        chosen = [e.experiment_id for e in store.experiments.list()]
    page = (
        store.runs.search(
            chosen,
            filter=filter,
            order_by=order_by or (),
            max_results=max_results,
            page_token=page_token,
            include_deleted=include_deleted,
        )
        if chosen
        else None
    )
    items = page.items if page else []
    token = page.next_page_token if page else None
    if as_json:
        print_listing(items, token)
        return
    metric_keys = sorted({k for r in items for k in r.metrics})[:6]
    rows = [
        (
            r.run_id,
            ("  " * depth + "└ " if depth else "") + r.name,
            r.status if r.lifecycle_stage == "active" else f"{r.status} (deleted)",
            format_ms(r.start_time),
            _duration(r),
            *(_num(r.metrics.get(k)) for k in metric_keys),
        )
        for depth, r in nested(items)
    ]
    print_table("Runs", ["id", "name", "status", "started", "duration", *metric_keys], rows)
    if token:
        print_note(f"More: --page-token {token}")


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
def show(run_ref: RunArg, as_json: JsonOpt = False) -> None:
    """Show a run: status, params, latest metrics, tags, reproducibility summary, artifacts."""
    client = _context.client()
    run_id = resolve(run_ref)
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
        console.print()
        console.print(f"[red]Error:[/] {run.error.splitlines()[0]}")


@app.command("compare")
def compare(
    run_refs: Annotated[
        list[str], typer.Argument(metavar="RUN...", help="Two or more run ids or unique prefixes.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Compare runs side by side; rows whose values differ are highlighted."""
    client = _context.client()
    runs = [client.get_run(resolve(r)) for r in run_refs]
    if as_json:
        print_listing(runs)
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
    run_ref: RunArg,
    requirements_out: Annotated[
        Path | None,
        typer.Option("--out", "-o", "--requirements-out", help="Write the package list to this file."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the steps that re-run a run: commit, Python, packages, command line, seeds, datasets."""
    # Loaded by this command only: `runs list` and `runs show` need no reproducibility capture.
    from loopml.tracking import reproduction_steps

    run = _context.client().get_run(resolve(run_ref))
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


@app.command("delete")
def delete(run_refs: RunsArg) -> None:
    """Mark runs deleted (hidden from listings; `loopml runs restore` brings them back)."""
    store = _context.store()
    for ref in run_refs:
        run_id = resolve(ref)
        store.runs.delete(run_id)
        console.print(f"Deleted run {run_id}", markup=False)


@app.command("restore")
def restore(run_refs: RunsArg) -> None:
    """Restore deleted runs."""
    store = _context.store()
    for ref in run_refs:
        run_id = resolve(ref)
        store.runs.restore(run_id)
        console.print(f"Restored run {run_id}", markup=False)


@app.command("metrics")
def metrics(
    run_ref: RunArg,
    key: Annotated[str, typer.Argument(help="Metric name.")],
    as_json: JsonOpt = False,
) -> None:
    """The full history of one metric of a run: every point with its step and time, and a sparkline."""
    client = _context.client()
    run_id = resolve(run_ref)
    points = client.get_metric_history(run_id, key)
    if not points:
        known = ", ".join(sorted(client.get_run(run_id).metrics)) or "none"
        raise NotFound(f"Run {run_id} has no metric {key!r}; its metrics: {known}.")
    if as_json:
        print_listing(points)
        return
    rows = [(p.step, _num(p.value), iso_ms(p.timestamp)) for p in points]
    print_table(key, ["step", "value", "time (UTC)"], rows)
    values = [p.value for p in points]
    low, high, last = _num(min(values)), _num(max(values)), _num(values[-1])
    print_note(f"{sparkline(values)}  min {low}  max {high}  last {last}  (run {run_id})")
