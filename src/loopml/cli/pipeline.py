"""``loopml pipeline``: run a pipeline file, list pipeline runs, show one run's DAG."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from loopml.cli import _context
from loopml.cli._errors import EXIT_CHECK_FAILED
from loopml.cli._output import console, format_ms, print_json, print_listing, print_table
from loopml.errors import InvalidInput
from loopml.pipeline import (
    EXECUTOR_NAMES,
    NullProgress,
    PipelineRunner,
    PipelineRunResult,
    ProgressReporter,
    RichProgress,
    create_executor,
    get_pipeline_run,
    list_pipeline_runs,
    load_pipeline,
    parse_param_overrides,
)

app = typer.Typer(help="Run pipelines and inspect pipeline runs.", no_args_is_help=True)


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.2f}s"


def _print_result(result: PipelineRunResult, *, with_table: bool) -> None:
    rows = [
        [
            s.name,
            s.state.value,
            _duration(s.duration_s),
            (s.cached_from or "")[:8],
            ", ".join(f"{k}={v[:8]}" for k, v in s.outputs.items()),
            (s.error or "").split("\n")[0],
        ]
        for s in result.steps
    ]
    title = f"{result.run_name}: {result.status.value} in {result.duration_s:.2f}s"
    if with_table:
        print_table(title, ["step", "state", "time", "cached from", "outputs", "error"], rows)
    else:
        counts = Counter(s.state.value.lower() for s in result.steps)
        console.print(f"{title} ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})")
    if with_table:
        console.print()  # the note stands apart from the table's border
    console.print(f"Details: loopml pipeline show {result.run_id}")


@app.command("run")
def run(
    target: Annotated[
        str, typer.Argument(help="FILE.py[:NAME] or package.module[:NAME] defining the pipeline.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Override a pipeline parameter: KEY=VALUE.")
    ] = None,
    executor: Annotated[str, typer.Option(help=f"Where steps run: {' | '.join(EXECUTOR_NAMES)}.")] = "local",
    workers: Annotated[int, typer.Option(help="Local executor: processes for independent steps.")] = 1,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step, ignoring the cache.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No live progress; print a table at the end.")
    ] = False,
) -> None:
    """Run a pipeline; exit 1 when a step failed."""
    if executor not in EXECUTOR_NAMES:
        raise InvalidInput(f"--executor {executor!r}: choose one of {', '.join(EXECUTOR_NAMES)}.")
    _context.require_local("pipeline run")
    pipeline = load_pipeline(target)
    overrides = parse_param_overrides(pipeline, param or [])
    settings = _context.settings()
    runner_executor = create_executor(executor, **({"max_workers": workers} if executor == "local" else {}))
    live = not as_json and not quiet
    progress: ProgressReporter = RichProgress() if live else NullProgress()
    services = _context.services()
    try:
        runner = PipelineRunner(
            services.store,
            services.blobs,
            executor=runner_executor,
            progress=progress,
            store_url=settings.resolved_store_url(),
        )
        result = runner.run(pipeline, params=overrides, no_cache=no_cache)
    finally:
        runner_executor.close()
    if as_json:
        print_json(result)
    else:
        _print_result(result, with_table=not live)
    if not result.is_ok:
        raise SystemExit(EXIT_CHECK_FAILED)  # typer.Exit codes are dropped under standalone_mode=False


@app.command("runs")
def runs(
    pipeline: Annotated[str | None, typer.Option(help="Only runs of this pipeline.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List pipeline runs, newest first."""
    items = list_pipeline_runs(_context.store(), pipeline=pipeline)
    if as_json:
        print_listing(items)
        return
    rows = [
        [
            r.run_id[:8],
            r.name,
            r.status,
            format_ms(r.started_at),
            _duration(r.duration_s),
            " ".join(f"{k.lower()}={v}" for k, v in sorted(r.counts.items())),
            r.executor,
        ]
        for r in items
    ]
    print_table("pipeline runs", ["id", "name", "status", "started", "duration", "steps", "executor"], rows)


@app.command("show")
def show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run name, id or id prefix.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show one run: each step's state, duration, cache hit, outputs and error."""
    detail = get_pipeline_run(_context.store(), run_ref)
    if as_json:
        print_json(detail)
        return
    s = detail.summary
    console.print(
        f"[bold]{s.name}[/] ({s.run_id})  pipeline={s.pipeline}  status={s.status}  "
        f"duration={_duration(s.duration_s)}  executor={s.executor}  params={dict(s.params)}"
    )
    rows = [
        [
            st.name,
            st.state,
            ", ".join(st.upstream),
            _duration(st.duration_s),
            (st.cached_from or "")[:8],
            ", ".join(f"{k}={v[:8]}" for k, v in st.outputs.items()),
            (st.error or "").split("\n")[0],
        ]
        for st in detail.steps
    ]
    print_table(None, ["step", "state", "after", "time", "cached from", "outputs", "error"], rows)
