"""The HTTP session of the remote store: pooling, timeouts, retries with backoff, bearer token,
and the error JSON of the server mapped back to loopml error types."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from loopml.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    InvalidInput,
    LoopmlError,
    NotFound,
    StoreUnavailable,
    Unauthorized,
    error_type,
)

__all__ = ["ApiSession"]

#: Fallback by HTTP status when the code names no error class (``loopml.errors.error_type``).
_BY_STATUS: Mapping[int, type[LoopmlError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    503: StoreUnavailable,
}
_RETRY_STATUSES = {502, 503, 504}


def _error_of(response: httpx.Response) -> LoopmlError:
    """The loopml error a server's error answer stands for: same type, message and fields."""
    code, message, details = "", response.text[:500], None
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") if isinstance(error.get("details"), dict) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    kind = error_type(code) if code else None
    if kind is None:
        kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = InvalidInput if 400 <= response.status_code < 500 else StoreUnavailable
    if response.status_code == 429:
        retry = response.headers.get("Retry-After", "?")
        message = f"{message} (HTTP 429; Retry-After {retry} s)"
    return kind.from_wire(message, details)


class ApiSession:
    """One pooled HTTP session with a loopml server.

    Args:
        base_url: ``http(s)://host:port`` of the server.
        token: Bearer token, if the server requires one.
        timeout_s: Per-request timeout.
        retries: Attempts after the first on connection errors and 502/503/504.
        backoff_s: First retry delay; doubles each attempt.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 0.1,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": "loopml-remote"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._retries, self._backoff_s = retries, backoff_s
        self._http = httpx.Client(
            base_url=self.base_url + "/api/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        delay = self._backoff_s
        for attempt in range(self._retries + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:  # never reached the server
                if attempt == self._retries:
                    raise StoreUnavailable(
                        f"Cannot reach the loopml server at {self.base_url}: {err}. Is `loopml server` "
                        "running there, and is LOOPML_TRACKING_URI right?"
                    ) from err
            except httpx.TransportError as err:  # sent, answer lost: a retry could apply it twice
                raise StoreUnavailable(
                    f"The loopml server at {self.base_url} did not answer {method} {path}: {err}. "
                    "Check whether it was applied before retrying."
                ) from err
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == self._retries:
                    return response
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def call(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """Send a JSON request; the decoded JSON answer (None for 204), or the mapped loopml error."""
        content = None
        headers = None
        if body is not None:
            try:
                content = json.dumps(body, allow_nan=False).encode()
            except (TypeError, ValueError) as err:
                raise InvalidInput(f"The request to {path} is not JSON-serialisable: {err}.") from err
            headers = {"Content-Type": "application/json"}
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._send(method, path, content=content, headers=headers, params=query)
        if response.status_code >= 400:
            raise _error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def upload(self, path: str, chunks: Iterator[bytes], *, headers: Mapping[str, str]) -> Any:
        """PUT a streamed body (not retried: the stream can be read once)."""
        try:
            response = self._http.put(path, content=chunks, headers=dict(headers))
        except httpx.TransportError as err:
            raise StoreUnavailable(f"Upload to {self.base_url}{path} failed: {err}. Retry it.") from err
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json()

    @contextmanager
    def download(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[httpx.Response]:
        """A streamed GET; the caller iterates ``response.iter_bytes()``."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            with self._http.stream("GET", path, params=query) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_of(response)
                yield response
        except httpx.TransportError as err:
            raise IntegrityError(
                f"The download of {path} broke off ({err}); the server stops a stream whose bytes "
                "fail verification. Check the artifact with `loopml artifacts verify`."
            ) from err
