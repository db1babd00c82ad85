"""FastAPI dependencies: the store, blob store and limits held by the app that serves a request.

They are ``async``: each only reads ``app.state``, and FastAPI runs a plain ``def`` dependency in a
worker thread, a hop every request of a handler using one would pay.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from loopml.artifacts import BlobStore
from loopml.server._config import ServerConfig
from loopml.store.repositories import Store

__all__ = ["Blobs", "Config", "StoreDep"]


async def _store(request: Request) -> Store:
    return cast(Store, request.app.state.store)


async def _blobs(request: Request) -> BlobStore:
    return cast(BlobStore, request.app.state.blobs)


async def _config(request: Request) -> ServerConfig:
    return cast(ServerConfig, request.app.state.config)


StoreDep = Annotated[Store, Depends(_store)]
Blobs = Annotated[BlobStore, Depends(_blobs)]
Config = Annotated[ServerConfig, Depends(_config)]
