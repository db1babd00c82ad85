"""loopml.monitor: the prediction-log format (read by monitoring, written by the model server),
feedback labels, monitoring windows and their records."""

from loopml.monitor.predictions import (
    BASE_SCHEMA,
    INPUT_PREFIX,
    OUTPUT_PREFIX,
    partition_path,
    prediction_table,
    read_prediction_log,
    write_prediction_table,
)
from loopml.monitor.records import WindowRecord

__all__ = [
    "BASE_SCHEMA",
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "WindowRecord",
    "partition_path",
    "prediction_table",
    "read_prediction_log",
    "write_prediction_table",
]
