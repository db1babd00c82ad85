"""Bounds that keep a scan finite in time and memory, whatever the input."""

from __future__ import annotations

from dataclasses import dataclass

from loopml.errors import InvalidInput

__all__ = ["ScanLimits"]

_GiB = 1024**3
_MiB = 1024**2


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanLimits:
    """Resource bounds of one scan; hitting one is a ``resource_limit`` finding (never a pass).

    Attributes:
        max_decompressed_bytes: Total bytes all decompressors together may produce.
        max_depth: How many containers may nest (a zip in a gzip in a tar is depth 3).
        max_members: Total container members (zip entries, tar entries) over the scan.
        max_ratio: Largest decompressed/compressed ratio of one stream, checked once it has
            produced ``ratio_floor_bytes``.
        ratio_floor_bytes: Output size from which ``max_ratio`` is enforced.
        max_arg_bytes: Largest pickle argument kept in memory; longer payloads are skipped.
        max_memo_entries: Memo entries tracked per pickle; later ones are forgotten.
        max_stack: Largest symbolic stack depth per pickle.
        spool_memory_bytes: A nested zip is spooled to memory up to this size, then to disk.

    Example:
        >>> ScanLimits(max_depth=3).max_depth
        3
    """

    max_decompressed_bytes: int = 2 * _GiB
    max_depth: int = 5
    max_members: int = 10_000
    max_ratio: float = 1000.0
    ratio_floor_bytes: int = 32 * _MiB
    max_arg_bytes: int = 1 * _MiB
    max_memo_entries: int = 1_000_000
    max_stack: int = 1_000_000
    spool_memory_bytes: int = 32 * _MiB

    def __post_init__(self) -> None:
        for name in (
            "max_decompressed_bytes",
            "max_depth",
            "max_members",
            "ratio_floor_bytes",
            "max_arg_bytes",
            "max_memo_entries",
            "max_stack",
            "spool_memory_bytes",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"ScanLimits.{name} must be an integer >= 1. Got {value!r}.")
        if not self.max_ratio > 1:
            raise InvalidInput(f"ScanLimits.max_ratio must be > 1. Got {self.max_ratio!r}.")
