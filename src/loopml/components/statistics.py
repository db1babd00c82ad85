"""``statistics``: TFDV-style statistics of every split of an examples artifact."""

from __future__ import annotations

from loopml.components._splits import split_path
from loopml.data import compute_statistics, write_statistics
from loopml.pipeline import Dataset, Statistics, component, scratch_dir

__all__ = ["statistics"]


@component
def statistics(examples: Dataset, *, max_workers: int = 1) -> Statistics:
    """Compute statistics per split with :func:`loopml.data.compute_statistics`.

    Args:
        examples: Split examples (from ``ingest``).
        max_workers: Worker processes of the local statistics engine.

    Returns:
        A folder with ``<split>.json`` per split; properties hold row counts per split.
    """
    folder = examples.local_path()
    out = scratch_dir("statistics")
    rows: dict[str, int] = {}
    for split in examples.properties.get("splits", ["train", "eval"]):
        stats = compute_statistics(split_path(folder, split), max_workers=max_workers, name=split)
        write_statistics(stats, out / f"{split}.json")
        rows[split] = stats.num_examples
    return Statistics.from_path(out, properties={"splits": list(rows), "rows": rows})
