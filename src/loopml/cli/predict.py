"""``loopml predict MODEL_URI INPUT --out OUTPUT``: batch scoring with the verified model, recorded."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli import _context

__all__ = ["predict"]


def predict(
    model_uri: Annotated[
        str,
        typer.Argument(
            help="models:/NAME@ALIAS, models:/NAME/VERSION or a package folder.", show_default=False
        ),
    ],
    data: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="A file, a folder of partitions, a dataset version (NAME@VERSION) or an fsspec URL.",
            show_default=False,
        ),
    ],
    out: Annotated[
        str,
        typer.Option("--out", help="Output folder or fsspec URL (written atomically).", show_default=False),
    ],
    engine: Annotated[
        str, typer.Option("--engine", help="local (process pool across partitions) or ray.")
    ] = "local",
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1, help="Rows per record batch (bounds memory).")
    ] = 65_536,
    columns: Annotated[
        list[str] | None, typer.Option("--columns", help="Prediction outputs to write: label, scores [both].")
    ] = None,
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Input columns written beside the predictions [all].")
    ] = None,
    out_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")] = False,
    fail_on_bad_rows: Annotated[
        bool,
        typer.Option("--fail-on-bad-rows", help="Stop at the first refused row instead of setting it aside."),
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes [CPU count].")
    ] = None,
    atypical: Annotated[
        str | None,
        typer.Option(
            "--atypical",
            help="Atypical-input scoring against the training statistics: log (count), flag (add the "
            "atypical and atypical_reasons columns) or reject (rows go to _rejected) [off].",
        ),
    ] = None,
    clip: Annotated[
        bool, typer.Option("--clip", help="Clip numeric inputs to the training range before predicting.")
    ] = False,
    fallback: Annotated[
        list[str] | None,
        typer.Option(
            "--fallback",
            metavar="COLUMN=CATEGORY",
            help="Replace values of COLUMN unseen in training by CATEGORY (repeatable).",
        ),
    ] = None,
) -> None:
    """Score a table with a verified model; bad rows go to OUTPUT/_rejected with their reasons.

    The run is tracked (model version, input, output dataset version, row counts, rejections,
    duration and resources) and the output carries statistics of inputs and predictions.
    """
    from loopml.data.versions import DatasetVersions
    from loopml.inference.atypical import AtypicalCheck
    from loopml.inference.batch import OUTPUTS
    from loopml.inference.predict import predict as run_predict
    from loopml.inference.restoration import InputRestoration

    _context.require_local("predict")
    services = _context.services()
    client = _context.client(create=True)
    report = run_predict(
        model_uri,
        data,
        out=out,
        registry=services.registry,
        client=client,
        datasets=DatasetVersions(client.store, client.blobs),
        engine=engine,
        batch_rows=batch_rows,
        keep=keep,
        outputs=tuple(columns) if columns else OUTPUTS,
        out_format=out_format,
        overwrite=overwrite,
        fail_on_bad_rows=fail_on_bad_rows,
        max_workers=workers,
        atypical=AtypicalCheck.from_mapping({"policy": atypical}, where="--atypical") if atypical else None,
        restoration=InputRestoration.from_mapping(
            {"clip": clip, "fallback": _pairs(fallback or [])}, where="--clip/--fallback"
        ),
    )
    typer.echo(
        f"Scored {report.rows_scored} of {report.rows_in} rows in {report.partitions} partition(s) "
        f"({report.duration_s:.1f} s) → {report.output}"
    )
    if report.rows_rejected:
        typer.echo(f"Rejected {report.rows_rejected} row(s) → {report.output}/_rejected:", err=True)
        for reason, count in sorted(report.reasons.items(), key=lambda kv: -kv[1])[:5]:
            typer.echo(f"  {count} rows: {reason}", err=True)
    if report.rows_atypical:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.atypical.items()))
        typer.echo(f"Atypical rows: {report.rows_atypical} ({kinds})")
    if report.restored:
        typer.echo("Restored values: " + ", ".join(f"{k} {v}" for k, v in sorted(report.restored.items())))
    if report.skew:
        flagged = report.skewed_features
        typer.echo(
            f"Skew against the training statistics: {len(flagged)} of {len(report.skew)} feature(s) over "
            f"the threshold" + (f": {', '.join(flagged)}" if flagged else "")
        )
    if report.run_id:
        typer.echo(f"Run {report.run_id}; output dataset version {report.output_version}")


def _pairs(items: list[str]) -> dict[str, str]:
    """``COLUMN=CATEGORY`` options as a mapping."""
    from loopml.errors import InvalidInput

    pairs: dict[str, str] = {}
    for item in items:
        column, sep, category = item.partition("=")
        if not sep or not column:
            raise InvalidInput(f"--fallback takes COLUMN=CATEGORY; got {item!r}.")
        pairs[column] = category
    return pairs
