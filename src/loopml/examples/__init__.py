"""Runnable example projects shipped with loopml; ``loopml demo`` runs them from here.

- :mod:`loopml.examples.census`: the census employment pipeline (real ACS PUMS data, a curated
  schema, two candidates, sliced evaluation, signed push) that ``loopml demo`` runs.
- :mod:`loopml.examples.quickstart`: one tracked training sweep with lineage
  (``loopml demo --quickstart`` or ``python -m loopml.examples.quickstart.train``).

Each is plain code over loopml's public API; read the README.md beside it.
"""
