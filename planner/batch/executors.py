"""Where batch tasks run: a local process pool, or Ray (a laptop or a cluster).

An executor takes the tasks and yields one result per task, in completion order. Both run the
same function, :func:`planner.batch.task.solve_task`, so their results agree whenever the solver
is deterministic under its seed (an iteration budget, not a time limit).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from planner.batch.task import BatchTask, error_result, solve_task
from planner.errors import ValidationError

EXECUTORS = ("local", "ray")
#: How often a task may be caught in a worker crash before it is recorded as failed.
MAX_CRASHES = 2


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Executor(Protocol):
    """Runs batch tasks and yields ``(task, result)`` as each finishes."""

    def run(self, tasks: Sequence[BatchTask]) -> Iterator[tuple[BatchTask, dict[str, Any]]]:
        """Solve every task; yield each with its result in completion order."""
        ...


@dataclass(frozen=True)
class LocalExecutor:
    """A pool of worker processes on this machine.

    Parameters
    ----------
    workers
        Processes; all available cores by default.

    Notes
    -----
    Workers are started by a fork server with the solver packages preloaded, so each worker
    starts in milliseconds and no state of the calling process (threads, progress display) is
    inherited (where there is no fork server, on Windows, workers are spawned). As with any
    process pool, a script that runs a batch must guard its entry point with
    ``if __name__ == "__main__":``. A worker that dies (a crash in native code, out of memory) breaks the pool: the
    pool is rebuilt and the unfinished tasks are submitted again; a task caught in
    :data:`MAX_CRASHES` crashes is recorded as failed.
    """

    workers: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValidationError("workers", f"must be at least 1 ({self.workers})")

    def _pool(self, size: int) -> ProcessPoolExecutor:
        if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
            return ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"))
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["planner.batch.task", "datasets.detect", "solvers.vrp"])
        return ProcessPoolExecutor(max_workers=size, mp_context=context)

    def run(self, tasks: Sequence[BatchTask]) -> Iterator[tuple[BatchTask, dict[str, Any]]]:
        if not tasks:
            return
        size = min(self.workers or available_cores(), len(tasks))
        crashes: dict[int, int] = {}
        todo = list(range(len(tasks)))
        while todo:
            pool = self._pool(size)
            try:
                futures: dict[Future[dict[str, Any]], int] = {pool.submit(solve_task, tasks[k]): k for k in todo}
                todo = []
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        k = futures[future]
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            crashes[k] = crashes.get(k, 0) + 1
                            if crashes[k] < MAX_CRASHES:
                                todo.append(k)
                                continue
                            result = error_result(tasks[k], "a worker process died while solving this instance")
                        yield tasks[k], result
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class RayExecutor:
    """One Ray task per instance, on a local Ray instance or a cluster.

    Parameters
    ----------
    address
        Address of a running cluster (``ray://head:10001``, ``auto``); ``None`` starts a local
        Ray instance with ``workers`` CPUs (all cores by default), or reuses the one this process
        is already connected to.
    workers
        CPUs of a local Ray instance started here.

    Notes
    -----
    Each task asks for one CPU, so the cluster runs as many at once as it has CPUs. The
    cluster's workers need routeplanner installed (``pip install 'routeplanner[distributed]'``)
    and the data directory at the same path (``ROUTEPLANNER_DATA``); results come back to the
    caller, who writes them, so the output folder need not be shared. A Ray instance started here
    is shut down at the end.
    """

    address: str | None = None
    workers: int | None = None

    def run(self, tasks: Sequence[BatchTask]) -> Iterator[tuple[BatchTask, dict[str, Any]]]:
        try:
            import ray
        except ImportError:
            raise ValidationError("executor", "Ray is not installed: pip install 'routeplanner[distributed]'") from None
        if not tasks:
            return
        started_here = not ray.is_initialized()
        if started_here:
            from datasets.location import CACHE_ENV, DATA_ENV

            env = {"env_vars": {k: v for k, v in os.environ.items() if k in (DATA_ENV, CACHE_ENV)}}
            if self.address is not None:
                ray.init(address=self.address, runtime_env=env, log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers or available_cores(), include_dashboard=False, log_to_driver=False,
                         runtime_env=env)
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(solve_task)
            pending: dict[Any, BatchTask] = {remote.remote(task): task for task in tasks}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    task = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # the task's process died or the cluster lost it
                        result = error_result(task, f"ray: {type(exc).__name__}: {exc}")
                    yield task, result
        finally:
            if started_here:
                ray.shutdown()


def make_executor(name: str, workers: int | None = None, address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``).

    Raises
    ------
    ValidationError
        For an unknown name, or an address given to the local executor.
    """
    if name == "local":
        if address is not None:
            raise ValidationError("address", "only the ray executor takes an address")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address, workers)
    raise ValidationError("executor", f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
