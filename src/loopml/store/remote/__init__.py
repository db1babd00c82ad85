"""The store over HTTP: :class:`RemoteStore` and :class:`RemoteBlobs` talk to a loopml server.

Used by the tracking client when ``settings.tracking_uri`` is set.
"""

from loopml.store.remote._blobs import RemoteBlobRef, RemoteBlobs
from loopml.store.remote._deployments import RemoteDeployments
from loopml.store.remote._http import ApiSession
from loopml.store.remote._models import RemoteModelReader
from loopml.store.remote._store import RemoteStore

__all__ = [
    "ApiSession",
    "RemoteBlobRef",
    "RemoteBlobs",
    "RemoteDeployments",
    "RemoteModelReader",
    "RemoteStore",
]
