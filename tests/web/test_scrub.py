"""Server paths never reach a client's error message."""

from __future__ import annotations

import pytest

from loopml.web.scrub import PLACEHOLDER, scrub


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("Cannot read '/srv/loopml/home/store.db'.", f"Cannot read '{PLACEHOLDER}'."),
        ("Bad file file:///tmp/x/y here", f"Bad file {PLACEHOLDER} here"),
        (r"Cannot open C:\Users\ana\m.bin", f"Cannot open {PLACEHOLDER}"),
        ("Use PUT /api/v1/blobs instead.", "Use PUT /api/v1/blobs instead."),  # a route, not a file
        ("Stored at s3://bucket/key/part", "Stored at s3://bucket/key/part"),
        ("columns a/b/c differ", "columns a/b/c differ"),
    ],
)
def test_paths_are_replaced_routes_and_urls_kept(message: str, shown: str) -> None:
    assert scrub(message) == shown


def test_given_roots_are_hidden_even_when_not_local_paths() -> None:
    assert scrub("Outside s3://lake/art/x", roots=["s3://lake/art/"]) == f"Outside {PLACEHOLDER}/x"
