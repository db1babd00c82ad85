"""The server's periodic planner-statistics check."""

from __future__ import annotations

import anyio
import pytest

from loopml.errors import InvalidInput, StoreUnavailable
from loopml.server import ServerConfig
from loopml.server._maintenance import periodic_statistics


def test_refresh_runs_periodically_and_survives_an_unreachable_store() -> None:
    calls: list[int] = []

    def refresh() -> list[str]:
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailable("database restarting")
        return ["runs"]

    async def main() -> None:
        async with periodic_statistics(refresh, 0.01):
            await anyio.sleep(0.3)

    anyio.run(main)
    assert len(calls) >= 3  # kept going after the first failure


def test_no_refresh_for_stores_without_statistics() -> None:
    async def main() -> None:
        async with periodic_statistics(None, 0.01):
            await anyio.sleep(0.05)

    anyio.run(main)


@pytest.mark.parametrize("bad", [0, -1.0, True, "5"])
def test_interval_must_be_positive(bad: object) -> None:
    with pytest.raises(InvalidInput, match="statistics_interval_s"):
        ServerConfig(statistics_interval_s=bad)  # type: ignore[arg-type]
