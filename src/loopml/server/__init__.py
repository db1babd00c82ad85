"""The platform REST API (``/api/v1``): experiments, runs, artifacts, lineage, datasets, models.

Build the app with :func:`create_app`; nothing is created at import time.
"""

from loopml.server._config import ServerConfig
from loopml.server._listen import check_bind
from loopml.server.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "ServerConfig", "check_bind", "create_app"]
