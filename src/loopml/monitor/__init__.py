"""loopml.monitor: the prediction-log format (read by monitoring, written by the model server)."""

from loopml.monitor.predictions import (
    PREDICTION_LOG_SCHEMA,
    PredictionRecord,
    partition_path,
    read_prediction_log,
    write_prediction_records,
)

__all__ = [
    "PREDICTION_LOG_SCHEMA",
    "PredictionRecord",
    "partition_path",
    "read_prediction_log",
    "write_prediction_records",
]
