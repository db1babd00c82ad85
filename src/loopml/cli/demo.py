"""``loopml demo``: the census model's whole lifecycle on the embedded defaults, told step by step.

The census pipeline trains, evaluates, signs and pushes the 2015 model (the inner loop); then the
lifecycle (:mod:`loopml.examples.census.lifecycle`) deploys and serves it, replays 2016-2018 with late
labels, monitors, alerts, retrains, canaries and promotes or rolls back. ``--pipeline-only`` stops
after the inner loop, ``--json`` prints the story as data, and ``--quickstart`` runs the tracking
quickstart instead (one tracked training run). The examples ship inside the package
(:mod:`loopml.examples`), so the demo works from an installed wheel.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from loopml.analysis import EvaluationResult
from loopml.artifacts import BlobStore
from loopml.cli import _context
from loopml.cli._errors import EXIT_CHECK_FAILED
from loopml.cli._output import console, print_json, print_table
from loopml.cli._story import print_step
from loopml.components import export_artifact
from loopml.config import Settings
from loopml.errors import InvalidInput, InvalidState
from loopml.pipeline import PipelineRunner, PipelineRunResult, RichProgress, StepState
from loopml.services import Services
from loopml.store import Store

EXAMPLES = "loopml.examples"
"""The package holding the example projects (each a folder: its code, data and README)."""
_SHOWN_METRICS = ("accuracy", "roc_auc", "recall", "false_positive_rate")
_HEADERS = ("accuracy", "auc", "recall", "fpr")
_SLICE_SPECS = ("overall", "SEX", "RAC1P")


@contextmanager
def _example(folder: str) -> Iterator[Path]:
    """The example ``folder`` of :data:`EXAMPLES` as a real directory, for as long as the block runs."""
    with as_file(files(EXAMPLES) / folder) as path:
        if not path.is_dir():
            raise InvalidInput(
                f"The demo needs the {folder!r} example at {path}, which is missing; reinstall loopml "
                "(pip install --force-reinstall loopml) or run from a source checkout."
            )
        yield path


def _load(path: Path, name: str) -> ModuleType:
    if not path.is_file():
        raise InvalidInput(
            f"The demo needs the example at {path}, which is missing; reinstall loopml "
            "(pip install --force-reinstall loopml) or run from a source checkout."
        )
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"Cannot load the example from {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_steps(result: PipelineRunResult) -> None:
    ran = [s.name for s in result.steps if s.state is StepState.COMPLETE]
    cached = [s.name for s in result.steps if s.state is StepState.CACHED]
    console.print(
        f"\n[bold]{result.run_name}[/]: {result.status.value} in {result.duration_s:.2f}s — "
        f"{len(ran)} ran, {len(cached)} cached"
    )
    if ran:
        console.print(f"  ran:    {', '.join(ran)}")
    if cached:
        console.print(f"  cached: {', '.join(cached)}")
    for s in result.steps:
        if s.state in (StepState.FAILED, StepState.SKIPPED):
            console.print(f"  [red]{s.name} {s.state.value}[/]: {(s.error or '').splitlines()[0][:300]}")


def _print_slices(evaluation: EvaluationResult, title: str) -> None:
    rows = []
    for s in evaluation.slices:
        if s.spec not in _SLICE_SPECS:
            continue
        if not s.is_evaluated:
            rows.append([s.key, s.count, *(["-"] * len(_SHOWN_METRICS)), "", "too small"])
            continue
        base = s.baseline.get("roc_auc") if s.baseline else None
        rows.append(
            [s.key, s.count, *(_fmt(s.value(m)) for m in _SHOWN_METRICS), _fmt(base) if base else "", ""]
        )
    print_table(title, ["slice", "n", *_HEADERS, "champion auc", "note"], rows)


def _print_gaps(evaluation: EvaluationResult) -> None:
    """One line per slice spec: the recall gap (equal opportunity) and positive-rate ratio."""
    for gap in evaluation.fairness:
        if gap.metric not in ("recall", "positive_rate") or gap.spec not in _SLICE_SPECS:
            continue
        ratio = f", ratio {gap.ratio:.2f}" if gap.metric == "positive_rate" and gap.ratio is not None else ""
        console.print(
            f"  fairness: {gap.metric} across {gap.spec}: {gap.min_slice} {gap.min_value:.3f} vs "
            f"{gap.max_slice} {gap.max_value:.3f} (gap {gap.difference:.3f}{ratio})"
        )


def _export_reports(store: Store, blobs: BlobStore, result: PipelineRunResult, root: Path) -> dict[str, Path]:
    """Copy each evaluation (JSON + HTML report) and model card of the run under ``root``."""
    folders: dict[str, Path] = {}
    for step in result.steps:
        for output in ("evaluation", "model_card"):
            artifact_id = step.outputs.get(output)
            if artifact_id and step.component == "evaluate":
                folders[f"{step.name}.{output}"] = export_artifact(
                    store, blobs, artifact_id, root / step.name / output
                )
    return folders


def _summary(store: Store, blobs: BlobStore, result: PipelineRunResult, home: Path) -> None:
    _print_steps(result)
    if not result.is_ok:
        return
    reports = _export_reports(store, blobs, result, home / "reports" / "census")
    for step in result.steps:
        if step.component != "evaluate":
            continue
        evaluation = EvaluationResult.load(reports[f"{step.name}.evaluation"] / "evaluation.json")
        blessing = store.artifacts.get(step.outputs["blessing"]).properties
        verdict = "[green]blessed[/]" if blessing.get("blessed") else "[red]not blessed[/]"
        _print_slices(evaluation, f"{step.name}: metrics by slice ({verdict})")
        for reason in blessing.get("reasons", []):
            console.print(f"  [red]✗[/] {reason}")
        _print_gaps(evaluation)
    _print_push(store, result)
    console.print("\n[bold]Reports[/] (HTML report + JSON per candidate, model cards):")
    for key, folder in sorted(reports.items()):
        console.print(f"  {key}: {folder}")


def _print_push(store: Store, result: PipelineRunResult) -> None:
    pushed_id = result.step("push").outputs.get("pushed_model", "")
    pushed = store.artifacts.get(pushed_id).properties
    chosen = result.step("select").outputs.get("model", "")
    trainer = str(store.artifacts.get(chosen).properties.get("trainer", "")).rpartition(":")[2]
    if pushed.get("pushed"):
        name = pushed.get("model_name")
        console.print(
            f"\n[bold]Pushed[/] {trainer} as {name} (alias {pushed.get('alias')}), signed by key "
            f"{str(pushed.get('signing_key_id'))[:12]}: artifact {pushed_id}"
        )
        console.print(f"  model URI: {_model_uri(store, pushed_id, pushed)}")
    else:
        console.print(f"\n[bold red]Not pushed[/]: {pushed.get('reason')}")
    console.print(
        f"\n[bold]Lineage[/]: `loopml lineage {pushed_id} --depth 20` walks back from the pushed model to "
        f"the dataset version, statistics, schema, transform, training run and evaluation;\n"
        f"  `loopml pipeline show {result.run_id}` shows the DAG with cache hits."
    )


def _model_uri(store: Store, pushed_id: str, pushed: Mapping[str, Any]) -> str:
    uri = pushed.get("registry_uri")
    if uri:
        return str(uri)
    artifact = store.artifacts.get(pushed_id)
    return f"artifact:{artifact.name}@{artifact.version} ({artifact.artifact_id})"


def _census_facts(store: Store, result: PipelineRunResult) -> dict[str, Any]:
    """The inner loop as story facts: the run, its steps, what it pushed."""
    facts: dict[str, Any] = {
        "pipeline_run": result.run_id,
        "status": result.status.value,
        "ran": [s.name for s in result.steps if s.state is StepState.COMPLETE],
        "cached": [s.name for s in result.steps if s.state is StepState.CACHED],
    }
    if result.is_ok:
        pushed_id = result.step("push").outputs.get("pushed_model", "")
        pushed = store.artifacts.get(pushed_id).properties
        facts.update(pushed_artifact=pushed_id, pushed=bool(pushed.get("pushed")),
                     version=pushed.get("registry_version"), reason=pushed.get("reason"))  # fmt: skip
    return facts


def _run_census(census: ModuleType, settings: Settings, *, no_cache: bool, loop: bool, as_json: bool) -> None:
    """Run the census pipeline of ``census`` in the configured store, then (``loop``) the lifecycle."""
    home = settings.home.expanduser().absolute()
    pipeline = census.pipeline(home=home)
    story: list[dict[str, Any]] = []
    if not as_json:
        console.print(f"loopml demo: census employment pipeline, home {home}")
    with Services(settings) as services:
        store, blobs = services.store, services.blobs
        runner = PipelineRunner(
            store,
            blobs,
            progress=None if as_json else RichProgress(),
            store_url=settings.resolved_store_url(),
        )
        result = runner.run(pipeline, no_cache=no_cache)
        facts = _census_facts(store, result)
        story.append({"step": "train", "summary": f"census pipeline {result.status.value}", "facts": facts})
        if not as_json:
            _summary(store, blobs, result, home)
        if result.is_ok and loop:
            _lifecycle(services, settings, facts, story, as_json=as_json)
    if as_json:
        print_json({"home": str(home), "steps": story})
    if not result.is_ok:
        raise SystemExit(EXIT_CHECK_FAILED)


def _lifecycle(
    services: Services,
    settings: Settings,
    facts: dict[str, Any],
    story: list[dict[str, Any]],
    *,
    as_json: bool,
) -> None:
    """Deploy the pushed model and run the lifecycle story (:mod:`loopml.examples.census.lifecycle`)."""
    if not facts.get("pushed") or facts.get("version") is None:
        raise InvalidState(
            f"The census pipeline pushed no model ({facts.get('reason') or 'not registered'}), so there is "
            "nothing to deploy; `loopml demo --pipeline-only` shows why."
        )
    lifecycle = importlib.import_module(f"{EXAMPLES}.census.lifecycle")

    def on_step(step: Any) -> None:
        story.append(step.to_document())
        if as_json:  # stdout carries the JSON at the end; say where the story is meanwhile
            typer.echo(f"{step.name}: {step.summary}", err=True)
        else:
            print_step(step.name, step.summary, step.facts)

    if not as_json:
        console.print("\n[bold]The lifecycle[/]: deploy, serve, replay 2016-2018 with late labels, monitor, "
                      "retrain, canary (a few minutes)")  # fmt: skip
    try:
        lifecycle.Lifecycle(services, settings, on_step=on_step).run(int(facts["version"]))
    except OSError as err:
        raise InvalidState(
            f"The lifecycle demo could not use its state folder {settings.home}: {err}. "
            "Pick a writable one: `loopml demo` with --home DIR (or LOOPML_HOME)."
        ) from err


def demo(
    quickstart: Annotated[
        bool, typer.Option("--quickstart", help="Run the tracking quickstart instead of the census pipeline.")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step, ignoring the cache.")] = False,
    pipeline_only: Annotated[
        bool,
        typer.Option(
            "--pipeline-only",
            help="Stop after the census pipeline (the inner loop): no serving, monitoring or retraining.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the story as data (a list of steps).")
    ] = False,
) -> None:
    """The census model's whole lifecycle: train, deploy, serve, monitor, retrain, canary.

    The pipeline (train, evaluate, sign, push), then deploy, serve, replay 2016-2018 with late
    labels, monitor, alert, retrain, canary, promote or roll back (--pipeline-only: the pipeline)."""
    settings = _context.settings()
    if quickstart:
        with _example("quickstart") as folder:
            run_id = _load(folder / "train.py", "loopml_quickstart").main(settings)
        console.print(f"\nDemo run {run_id}: `loopml runs show {run_id}` and `loopml lineage {run_id}`.")
        return
    _context.require_local("demo")  # the census pipeline needs a local store; --quickstart logs anywhere
    with _example("census") as folder:
        _run_census(
            _load(folder / "pipeline.py", "loopml_census_pipeline"),
            settings,
            no_cache=no_cache,
            loop=not pipeline_only,
            as_json=as_json,
        )
