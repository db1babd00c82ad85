"""Statistics engines: ``local`` (processes on this machine) and ``ray`` (the ``ray`` extra)."""

from loopml.data.engines.local import run_local

__all__ = ["run_local"]
