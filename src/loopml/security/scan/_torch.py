"""Knows PyTorch's checkpoint layouts: which zip members are raw storages, and the legacy stream."""

from __future__ import annotations

from collections.abc import Iterable

#: A legacy (pre-zip) ``torch.save`` stream: magic number, protocol version, system info, the
#: object, then the storage keys, each a pickle; raw storage bytes follow and are never unpickled.
LEGACY_PICKLES = 5


def torch_storage_prefixes(names: Iterable[str]) -> tuple[str, ...]:
    """Folders of raw tensor storages in a zip checkpoint: ``<archive>/data/`` next to ``data.pkl``.

    Example:
        >>> torch_storage_prefixes(["model/data.pkl", "model/data/0", "model/version"])
        ('model/data/',)
    """
    prefixes = []
    for name in names:
        if name == "data.pkl":
            prefixes.append("data/")
        elif name.endswith("/data.pkl"):
            prefixes.append(name[: -len("data.pkl")] + "data/")
    return tuple(prefixes)
