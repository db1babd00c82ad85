""":class:`RemoteStore`: the :class:`~loopml.store.Store` protocol over a loopml server's REST API."""

from __future__ import annotations

from types import TracebackType

import httpx

from loopml.store.remote._http import ApiSession
from loopml.store.remote._repositories import (
    RemoteArtifactRepository,
    RemoteExperimentRepository,
    RemoteLineageRepository,
    RemoteRunRepository,
)

__all__ = ["RemoteStore"]


class RemoteStore:
    """All repositories of a loopml server; same calls, same results and errors as the SQL store.

    Args:
        url: ``http(s)://host:port`` of the server.
        token: Bearer token (``settings.tracking_token``).
        timeout_s: Per-request timeout.
        retries: Retries on connection errors and 502/503/504, with exponential backoff.

    Example:
        >>> RemoteStore("http://127.0.0.1:5000").url
        'http://127.0.0.1:5000'
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.session = ApiSession(url, token=token, timeout_s=timeout_s, retries=retries, transport=transport)
        self._experiments = RemoteExperimentRepository(self.session)
        self._runs = RemoteRunRepository(self.session)
        self._artifacts = RemoteArtifactRepository(self.session)
        self._lineage = RemoteLineageRepository(self.session)

    @property
    def url(self) -> str:
        return self.session.base_url

    @property
    def experiments(self) -> RemoteExperimentRepository:
        return self._experiments

    @property
    def runs(self) -> RemoteRunRepository:
        return self._runs

    @property
    def artifacts(self) -> RemoteArtifactRepository:
        return self._artifacts

    @property
    def lineage(self) -> RemoteLineageRepository:
        return self._lineage

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r})"
