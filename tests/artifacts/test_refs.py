"""BlobRef invariants and sha256 validation."""

from __future__ import annotations

import pytest

from loopml.artifacts import BlobRef, blob_uri, validate_sha256
from loopml.errors import InvalidInput

SHA = "ab" + "0" * 62


def test_blob_uri_layout() -> None:
    assert blob_uri(SHA) == f"sha256/ab/{'0' * 62}"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("sha256", "xyz", "64 lowercase hex"), ("size", -1, "size"), ("size", True, "size"), ("uri", "", "uri")],
)
def test_invariants(field: str, value: object, message: str) -> None:
    kwargs: dict[str, object] = {"sha256": SHA, "size": 1, "uri": blob_uri(SHA)}
    kwargs[field] = value
    with pytest.raises(InvalidInput, match=message):
        BlobRef(**kwargs)  # type: ignore[arg-type]


def test_positional_construction_and_defaults() -> None:
    ref = BlobRef(SHA, 3, "s3://bucket/x", True)
    assert (ref.is_reference, ref.etag) == (True, None)


def test_validate_names_label() -> None:
    with pytest.raises(InvalidInput, match=r"'model'.*'nope'"):
        validate_sha256("nope", label="model")
