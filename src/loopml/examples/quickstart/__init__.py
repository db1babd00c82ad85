"""The tracking quickstart: :mod:`.train` runs one tracked sweep and prints its lineage."""
