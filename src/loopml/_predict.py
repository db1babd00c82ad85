"""``loopml.predict``: batch scoring from the SDK, with the settings of the default client."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from loopml.inference.atypical import AtypicalCheck
    from loopml.inference.predict import BatchReport
    from loopml.inference.restoration import InputRestoration

__all__ = ["predict"]


def predict(
    model_uri: str,
    data: Any,
    *,
    out: str | os.PathLike[str] | None = None,
    keep: Sequence[str] | None = None,
    outputs: Sequence[str] = ("label", "scores"),
    batch_rows: int = 65_536,
    out_format: str = "parquet",
    overwrite: bool = False,
    fail_on_bad_rows: bool = False,
    max_workers: int | None = None,
    record: bool = True,
    atypical: AtypicalCheck | None = None,
    restoration: InputRestoration | None = None,
) -> pa.Table | BatchReport:
    """Score ``data`` with a verified model.

    Args:
        model_uri: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or a package folder.
        data: An Arrow table or pandas DataFrame (scored in memory, returned as an Arrow table with
            the prediction columns; rejected rows raise unless ``fail_on_bad_rows`` is off, when
            they are left out and listed in the table's ``loopml.rejected`` metadata), or a file,
            folder of partitions, dataset version ``NAME@VERSION`` or fsspec URL written to ``out``.
        out: The output folder or fsspec URL (required for files).
        record: Track the file run in the default tracking store (run, output dataset version).
        atypical: Atypical-input scoring (``log``, ``flag`` columns, ``reject`` rows), as in serving.
        restoration: Input restoration (clip to the training range, unseen categories to a fallback).

    Returns:
        The scored table (in-memory data), or the run's :class:`~loopml.inference.predict.BatchReport`.

    Raises:
        InvalidInput: see :func:`loopml.inference.predict.predict`.
    """
    import pyarrow as pa

    from loopml.data.versions import DatasetVersions
    from loopml.errors import InvalidInput
    from loopml.inference.predict import predict as run_predict
    from loopml.inference.predict import score_table
    from loopml.services import Services
    from loopml.tracking.fluent import get_client

    client = get_client()
    services = Services(client.settings)
    try:
        if isinstance(data, pa.Table) or type(data).__name__ == "DataFrame":
            table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
            scored, rejected = score_table(
                model_uri,
                table,
                registry=services.registry,
                keep=keep,
                outputs=outputs,
                atypical=atypical,
                restoration=restoration,
            )
            if rejected.num_rows and fail_on_bad_rows:
                first = rejected.to_pylist()[0]
                raise InvalidInput(f"Row {first['row']} was refused: {first['reason']}")
            reasons = rejected.select(["row", "reason"]).to_pylist()
            return scored.replace_schema_metadata({"loopml.rejected": json.dumps(reasons)})
        if out is None:
            raise InvalidInput("Give out= (an output folder) to score files, folders or dataset versions.")
        return run_predict(
            model_uri,
            data,
            out=out,
            registry=services.registry,
            client=client if record else None,
            datasets=DatasetVersions(client.store, client.blobs),  # reads NAME@VERSION input too
            batch_rows=batch_rows,
            keep=keep,
            outputs=outputs,
            out_format=out_format,
            overwrite=overwrite,
            fail_on_bad_rows=fail_on_bad_rows,
            max_workers=max_workers,
            atypical=atypical,
            restoration=restoration,
        )
    finally:
        services.close()
