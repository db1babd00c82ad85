"""Retry-After in whole seconds, never earlier than the limit frees up."""

from __future__ import annotations

import pytest

from loopml.web.rate_limits import RETRY_AFTER, retry_after_headers, retry_after_seconds


@pytest.mark.parametrize(
    ("wait_s", "seconds"),
    [(0.0, 1), (0.01, 1), (1.0, 1), (1.2, 2), (1.5, 2), (59.01, 60), (86_399.5, 86_400)],
)
def test_retry_after_rounds_up_and_is_at_least_one_second(wait_s: float, seconds: int) -> None:
    assert retry_after_seconds(wait_s) == seconds
    assert retry_after_headers(wait_s) == {RETRY_AFTER: str(seconds)}
