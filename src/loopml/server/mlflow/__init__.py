"""The MLflow-compatible REST API (``/api/2.0/mlflow/...``): a skin over loopml's store.

The official ``mlflow`` client logs to ``loopml server`` unchanged
(``MLFLOW_TRACKING_URI=http://host:port``). :mod:`loopml.server.mlflow.routes` holds the router,
:mod:`loopml.server.mlflow.access` the permissions of its routes; ``README.md`` beside this file
lists where loopml deliberately differs from MLflow.

This module imports nothing, so the security layer can read the access table without importing
the routes.
"""

__all__: list[str] = []
