"""``loopml data``: statistics, schema, validation, reports and dataset versions."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from loopml.artifacts import Blobs
from loopml.cli import _context
from loopml.cli._output import console, format_ms, iso_ms, print_json, print_listing, print_table
from loopml.data import compute_statistics
from loopml.data.derived import DerivedStatistics, StatisticsArtifact
from loopml.data.files import read_statistics, write_anomalies, write_statistics, write_text
from loopml.data.report import feature_svgs, render_report
from loopml.data.schema import Schema, infer_schema, read_schema, write_schema
from loopml.data.validation import validate
from loopml.data.versions import DatasetVersion, DatasetVersions
from loopml.errors import InvalidInput
from loopml.store import Store

if TYPE_CHECKING:
    from collections.abc import Iterator

app = typer.Typer(
    help="Data validation: statistics, schema, anomalies, drift / skew, reports.", no_args_is_help=True
)


@app.command("stats")
def stats(
    paths: Annotated[list[Path], typer.Argument(help="CSV / Parquet files or folders (hive partitions).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Statistics JSON to write.")],
    engine: Annotated[str, typer.Option(help="local or ray.")] = "local",
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or parquet (default: by name).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: CPU count).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Registered NAME[@VERSION] this is for: records lineage.")
    ] = None,
) -> None:
    """Compute TFDV-style statistics of a dataset (streaming; exit 2 on unreadable or empty input)."""
    with Progress(console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("statistics", total=None)
        result = compute_statistics(
            [str(p) for p in paths],
            engine=engine,
            file_format=file_format,
            max_workers=workers,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if result.num_examples == 0:
        shown = ", ".join(repr(str(p)) for p in paths[:3])
        verb = "holds" if len(paths) == 1 else "hold"
        raise InvalidInput(f"{shown} {verb} no rows (a header only?): there is no data to profile.")
    write_statistics(result, out)
    _record(dataset, "Statistics", "statistics", out, "ComputeStatistics")
    summary = {"out": str(out), "num_examples": result.num_examples, "features": len(result.features)}
    if as_json:
        print_json(summary)
    else:
        console.print(f"{result.num_examples} examples, {len(result.features)} features → {out}")


@app.command("schema")
def schema(
    stats_file: Annotated[Path, typer.Argument(help="Statistics JSON (from `loopml data stats`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Schema YAML to write.")],
    infer_ranges: Annotated[
        bool, typer.Option(help="Also require values within the observed range.")
    ] = False,
    comparators: Annotated[bool, typer.Option(help="Add default drift / skew comparators.")] = True,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Registered NAME[@VERSION] this is for: records lineage.")
    ] = None,
) -> None:
    """Infer an editable, commented schema YAML from statistics."""
    inferred = infer_schema(read_statistics(stats_file), infer_ranges=infer_ranges, comparators=comparators)
    write_schema(inferred, out)
    _record(dataset, "Schema", "schema", out, "InferSchema")
    console.print(f"{len(inferred.features)} features → {out}")


def _load_schema(path: Path) -> Schema:
    if path.suffix in (".pbtxt", ".textproto"):
        from loopml.data.tfdv_schema import read_tfdv_schema  # needs tensorflow-metadata

        return read_tfdv_schema(path)
    return read_schema(path)


@app.command("validate")
def validate_cmd(
    stats_file: Annotated[Path, typer.Argument(help="Statistics JSON of the data to check.")],
    schema_file: Annotated[Path, typer.Option("--schema", help="Schema YAML (or TFDV schema.pbtxt).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Anomalies JSON to write.")] = None,
    previous: Annotated[Path | None, typer.Option(help="Previous span's statistics (drift).")] = None,
    training: Annotated[Path | None, typer.Option(help="Training statistics (skew).")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="One drift / skew threshold for all features.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Registered NAME[@VERSION] this is for: records lineage.")
    ] = None,
) -> None:
    """Validate statistics against a schema and baselines; exit 1 when there are anomalies."""
    checked = read_statistics(stats_file)
    loaded = _load_schema(schema_file)
    if threshold is not None:
        loaded = loaded.with_threshold(threshold)
    result = validate(
        checked,
        loaded,
        previous=read_statistics(previous) if previous is not None else None,
        training=read_statistics(training) if training is not None else None,
    )
    if out is not None:
        write_anomalies(result, out)
        _record(dataset, "Anomalies", "anomalies", out, "ValidateStatistics")
    if as_json:
        typer.echo(result.to_json())
    elif result.anomalies:
        print_table(
            "Anomalies",
            ["feature", "kind", "severity", "description"],
            [(a.feature, a.kind, a.severity.value, a.description) for a in result.anomalies],
        )
    else:
        console.print(f"No anomalies ({len(result.drift_skew)} drift / skew comparisons ran).")
    if result.has_anomalies:
        raise SystemExit(1)  # a check failed (typer.Exit codes are dropped under standalone_mode=False)


@app.command("report")
def report(
    stats_file: Annotated[Path, typer.Argument(help="Statistics JSON.")],
    baseline_file: Annotated[Path | None, typer.Argument(help="Baseline statistics JSON (optional).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    schema_file: Annotated[Path | None, typer.Option("--schema", help="Schema: highlight anomalies.")] = None,
    svg_dir: Annotated[
        Path | None, typer.Option("--svg", help="Also write each chart as DIR/<feature>.svg.")
    ] = None,
    png_dir: Annotated[
        Path | None,
        typer.Option("--png", help="Also write each chart as DIR/<feature>.png (needs loopml[plots])."),
    ] = None,
) -> None:
    """Write a self-contained HTML report (no CDN), side by side with a baseline when given."""
    current = read_statistics(stats_file)
    baseline = read_statistics(baseline_file) if baseline_file is not None else None
    result = None
    if schema_file is not None:
        result = validate(current, _load_schema(schema_file), previous=baseline)
    write_text(render_report(current, baseline, result=result), out)
    if svg_dir is not None:
        for f in current.features:
            base = baseline.feature(f.name) if baseline is not None else None
            for i, chart in enumerate(feature_svgs(f, base)):
                safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f.name)
                write_text(chart, svg_dir / f"{safe}{'' if i == 0 else '.baseline'}.svg")
    if png_dir is not None:
        from loopml.data.report_png import write_png_report  # optional extra, imported only when asked

        written = write_png_report(current, baseline, out_dir=png_dir, result=result)
        console.print(f"{len(written)} PNG charts → {png_dir}")
    console.print(f"Report → {out}")


@app.command("show-stats")
def show_stats(
    stats_file: Annotated[Path, typer.Argument(help="Statistics JSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a one-line-per-feature summary of statistics."""
    loaded = read_statistics(stats_file)
    rows = []
    for f in loaded.features:
        detail = ""
        if f.num_stats is not None:
            n = f.num_stats
            detail = f"mean={n.mean:.4g} std={n.std_dev:.4g} min={n.min:.4g} max={n.max:.4g}"
        elif f.string_stats is not None:
            top = f.string_stats.top_values[0].value if f.string_stats.top_values else ""
            detail = f"unique={f.string_stats.unique} top={top!r}"
        rows.append((f.name, f.type.value, f.num_non_missing, f.num_missing, detail))
    if as_json:
        print_json(
            [
                dict(zip(("name", "type", "num_non_missing", "num_missing", "detail"), r, strict=True))
                for r in rows
            ]
        )
        return
    print_table(f"{loaded.num_examples} examples", ["feature", "type", "present", "missing", "summary"], rows)


# --- dataset versions -----------------------------------------------------------------------


@contextmanager
def _stores(*, create: bool = False) -> Iterator[tuple[Store, Blobs]]:
    """The store and blobs of this invocation (the server's with LOOPML_TRACKING_URI); a read
    (``create`` False) in a folder without a store is refused instead of creating one."""
    client = _context.client(create=create)
    yield client.store, client.blobs


@contextmanager
def _versions(*, create: bool = False) -> Iterator[DatasetVersions]:
    with _stores(create=create) as (store, blobs):
        yield DatasetVersions(store, blobs)


def _record(ref: str | None, artifact_type: str, role: str, path: Path, execution_type: str) -> None:
    """Record lineage (dataset version → output artifact) when --dataset was given."""
    if ref is None:
        return
    with _versions(create=True) as versions:
        versions.record(versions.get(ref), {role: (artifact_type, path)}, execution_type=execution_type)


def _statistics_row(s: StatisticsArtifact) -> dict[str, object]:
    return {
        "artifact_id": s.artifact_id,
        "name": s.artifact.name,
        "splits": list(s.splits),
        "computed_from": s.computed_from,
        "hops": s.hops,
        "created_at": iso_ms(s.artifact.created_at),
    }


def _version_row(v: DatasetVersion) -> dict[str, object]:
    return {
        "name": v.name,
        "version": v.version,
        "artifact_id": v.artifact_id,
        "num_rows": v.num_rows,
        "files": len(v.files),
        "bytes": sum(f.size for f in v.files),
        "format": v.file_format,
        "source": v.source,
        "by_reference": all(f.is_reference for f in v.files),
    }


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    path: Annotated[Path, typer.Argument(help="CSV / Parquet file or folder.")],
    by_reference: Annotated[
        bool, typer.Option("--by-reference", help="Hash in place; copy nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Register an immutable version of a dataset (files hashed; copied or referenced)."""
    with _versions(create=True) as versions:
        v = versions.add(name, path, by_reference=by_reference)
    if as_json:
        print_json(_version_row(v))
    else:
        console.print(f"{v.name}@{v.version}: {v.num_rows} rows, {len(v.files)} files")


@app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List dataset versions."""
    with _versions() as versions:
        arts = versions.list(name)
    if as_json:
        print_listing(
            [
                {
                    "name": a.name,
                    "version": a.version,
                    "artifact_id": a.artifact_id,
                    "num_rows": a.properties.get("num_rows"),
                    "files": a.properties.get("files"),
                    "by_reference": a.properties.get("by_reference"),
                    "created_at": iso_ms(a.created_at),
                }
                for a in arts
            ]
        )
        return
    rows = [
        (
            a.name,
            a.version,
            a.properties.get("num_rows"),
            a.properties.get("files"),
            a.properties.get("by_reference"),
            format_ms(a.created_at),
        )
        for a in arts
    ]
    print_table("Datasets", ["name", "version", "rows", "files", "by reference", "created"], rows)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a dataset version: files, hashes, rows, Arrow schema, and the statistics computed from it."""
    with _stores() as (store, blobs):
        v = DatasetVersions(store, blobs).get(ref)
        statistics = DerivedStatistics(store, blobs).list(v)
    if as_json:
        print_json(
            {
                **_version_row(v),
                "arrow_schema": v.arrow_schema,
                "file_list": list(v.files),
                "statistics": [_statistics_row(s) for s in statistics],
            }
        )
        return
    print_table(
        f"{v.name}@{v.version} ({v.num_rows} rows)",
        ["path", "size", "sha256", "reference"],
        [(f.path, f.size, f.sha256[:16], f.is_reference) for f in v.files],
    )
    console.print(v.arrow_schema)
    if not statistics:
        console.print(
            f"No statistics yet: `loopml data profile {v.name}@{v.version} -o stats.json` computes them."
        )
        return
    print_table(
        "Statistics",
        ["artifact", "name", "splits", "computed from", "created"],
        [
            (
                s.artifact_id,
                s.artifact.name,
                ", ".join(s.splits) or "-",
                s.computed_from[:12],
                format_ms(s.artifact.created_at),
            )
            for s in statistics
        ],
    )


@app.command("diff")
def diff(
    before: Annotated[str, typer.Argument(help="NAME@VERSION (older).")],
    after: Annotated[str, typer.Argument(help="NAME@VERSION (newer).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Files added / removed / changed and row counts between two versions."""
    with _versions() as versions:
        d = versions.diff(before, after)
    if as_json:
        print_json(d)
        return
    print_table(
        f"{before} → {after}",
        ["change", "value"],
        [
            ("added", ", ".join(d.added)),
            ("removed", ", ".join(d.removed)),
            ("changed", ", ".join(d.changed)),
            ("rows", f"{d.rows_before} → {d.rows_after}"),
            ("schema changed", d.schema_changed),
        ],
    )


@app.command("profile")
def profile(
    ref: Annotated[str, typer.Argument(help="Registered dataset NAME or NAME@VERSION.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Statistics JSON to write.")],
    engine: Annotated[str, typer.Option(help="local or ray.")] = "local",
) -> None:
    """Compute statistics of a registered version and record the lineage (dataset → statistics)."""
    with _versions() as versions:
        v = versions.get(ref)
        with versions.materialize(v) as local:
            result = compute_statistics(
                str(local), engine=engine, file_format=v.file_format, name=f"{v.name}@{v.version}"
            )
        write_statistics(result, out)
        execution_id = versions.record(
            v, {"statistics": ("Statistics", out)}, execution_type="ComputeStatistics"
        )
    console.print(f"{result.num_examples} examples → {out} (execution {execution_id})")
