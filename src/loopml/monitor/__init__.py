"""loopml.monitor: the prediction-log format (read by monitoring, written by the model server),
feedback labels, monitoring windows and their records.

The window computation (:class:`loopml.monitor.service.MonitorService`, with statistics, drift
and performance) lives in its own modules, so that the model server, which imports this package
for the log format, does not load the data-validation stack.
"""

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
