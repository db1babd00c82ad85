"""skops' default trusted-type lists, narrowed to what loopml's allowlist does not already cover.

Importing ``skops.io`` runs ``skops.io._trusted_types``, which builds its default lists by
importing every scikit-learn module (``all_estimators``, pytest included) and by searching every
loaded module for each SciPy ufunc: about half a CPU second, before any model is read. Every name
those two lists hold starts with ``sklearn.`` or ``scipy.`` and passes loopml's own allowlist
(``flavors.sklearn._is_allowed``), so loading trusts exactly the same types without them: a type
that skops no longer trusts by default is reported by ``get_untrusted_types`` and accepted or
refused by that allowlist. The lists loopml's allowlist does not cover are kept as skops builds
them: the builtin primitives and containers (trusted) and the NumPy bit generators (the only
types a random generator may be built from). ``tests/registry/test_skops_defaults.py`` compares
every list with skops' own, so a skops upgrade that changes them fails there, not in production.
"""

from __future__ import annotations

import sys
import types

import numpy as np

__all__ = ["MODULE", "install", "narrowed_defaults"]

#: The skops module these lists stand in for.
MODULE = "skops.io._trusted_types"
#: Lists emptied here: every name skops puts in them passes loopml's allowlist.
EMPTIED = (
    "SKLEARN_ESTIMATOR_TYPE_NAMES",
    "SKLEARN_INTERNAL_TYPE_NAMES",
    "SCIPY_UFUNC_TYPE_NAMES",
    "NUMPY_UFUNC_TYPE_NAMES",
    "NUMPY_DTYPE_TYPE_NAMES",
)


def narrowed_defaults() -> types.ModuleType:
    """A module with the names of ``skops.io._trusted_types``, the covered lists left empty."""
    module = types.ModuleType(MODULE, __doc__)
    kept = {
        "PRIMITIVE_TYPE_NAMES": ["builtins." + t.__name__ for t in (int, float, str, bool)],
        "CONTAINER_TYPE_NAMES": ["builtins." + t.__name__ for t in (list, set, map, tuple)],
        "NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES": sorted(
            f"numpy.random.{attr}"
            for attr in dir(np.random)
            if isinstance(obj := getattr(np.random, attr), type)
            and issubclass(obj, np.random.BitGenerator)
            and obj is not np.random.BitGenerator
        ),
    }
    for name, values in kept.items():
        setattr(module, name, values)
    for name in EMPTIED:
        setattr(module, name, [])
    return module


def install() -> None:
    """Put the narrowed lists in place of skops' own, unless ``skops.io`` is already imported.

    Once skops has built its own lists they stay (the allowlist gives the same answer with
    either), so calling this late, or twice, changes nothing.
    """
    if "skops.io" not in sys.modules and MODULE not in sys.modules:
        sys.modules[MODULE] = narrowed_defaults()
