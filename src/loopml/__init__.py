"""loopml: the whole machine-learning lifecycle in one package.

The fluent tracking SDK lives here as a facade over one lazily created default
:class:`loopml.tracking.Client` (see :mod:`loopml.tracking.fluent`).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
