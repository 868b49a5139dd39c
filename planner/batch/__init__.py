"""Batch solving: many instances, one solver, a local process pool or Ray, resumable result files.

``routeplanner batch`` calls :func:`expand_inputs`, :func:`make_tasks`, :func:`make_executor` and
:func:`run_batch`; see :mod:`planner.batch.runner` for the output layout.
"""

from planner.batch.executors import EXECUTORS, LocalExecutor, RayExecutor, available_cores, make_executor
from planner.batch.inputs import BatchInput, expand_inputs, suite_names
from planner.batch.runner import (
    BatchOutcome,
    BatchState,
    make_tasks,
    read_valid_result,
    result_path,
    result_record,
    run_batch,
    write_summaries,
)
from planner.batch.task import BatchTask, solve_task

__all__ = [
    "EXECUTORS", "BatchInput", "BatchOutcome", "BatchState", "BatchTask", "LocalExecutor", "RayExecutor",
    "available_cores", "expand_inputs", "make_executor", "make_tasks", "read_valid_result", "result_path",
    "result_record", "run_batch", "solve_task", "suite_names", "write_summaries",
]
