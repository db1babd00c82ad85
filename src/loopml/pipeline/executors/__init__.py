"""Where pipeline steps run: in this process, a local process pool, or Ray tasks."""

from loopml.pipeline.executors.base import Executor
from loopml.pipeline.executors.local import LocalExecutor
from loopml.pipeline.executors.registry import EXECUTOR_NAMES, create_executor

__all__ = ["EXECUTOR_NAMES", "Executor", "LocalExecutor", "create_executor"]
