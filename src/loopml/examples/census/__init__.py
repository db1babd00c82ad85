"""The census employment example: :mod:`.pipeline`, its curated ``schema.yaml`` and ``data/`` (ACS PUMS)."""
