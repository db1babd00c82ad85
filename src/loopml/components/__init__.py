"""Standard pipeline components (TFX parity) on top of the data, analysis, registry and tracking packages.

``ingest`` → ``statistics`` → ``schema`` → ``validate`` → ``transform`` → ``train`` →
``evaluate`` → (``select``) → ``infra_validate`` → ``push``. Each is a
:func:`~loopml.pipeline.component`; they hold glue, the algorithms live in the domain packages.

Example:
    >>> from loopml.components import ingest, statistics
    >>> examples = ingest(source="data.parquet", dataset_name="census", key="id")
    >>> stats = statistics(examples=examples.output)
    >>> sorted(statistics.inputs), sorted(statistics.outputs)
    (['examples'], ['statistics'])
"""

from loopml.components._digest import file_digest
from loopml.components.bulk_infer import bulk_infer
from loopml.components.evaluate import evaluate
from loopml.components.export import export_artifact
from loopml.components.infra_validate import infra_validate
from loopml.components.ingest import ingest
from loopml.components.push import push
from loopml.components.schema import schema
from loopml.components.select import select
from loopml.components.statistics import statistics
from loopml.components.train import train
from loopml.components.transform import transform
from loopml.components.validate import validate

__all__ = [
    "bulk_infer",
    "evaluate",
    "export_artifact",
    "file_digest",
    "infra_validate",
    "ingest",
    "push",
    "schema",
    "select",
    "statistics",
    "train",
    "transform",
    "validate",
]
