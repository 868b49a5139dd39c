"""Worker processes and the job manager: a bounded queue of accepted jobs, a fixed set of
worker processes, cancellation, progress, and recovery after a restart.

Solves run in separate processes (started with ``spawn``, so no gRPC state is forked), one job
per process at a time. Each worker slot has its own cancel event; cancelling a running job sets
it, and the solver returns its best solution within its polling interval. A worker that does not
stop within :attr:`JobManager.cancel_grace_s` of a cancel, or outlives its time limit by far, is
terminated and replaced. A worker that dies is replaced and its job re-run or failed.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from planner.errors import CapacityError, NotFoundError
from server.errors import ServiceError, status_of, status_proto
from server.jobs import JobRecord, JobState, JobStore

log = logging.getLogger("routeplanner.server.jobs")


def _worker_main(slot: int, tasks: Any, results: Any, cancel: Any) -> None:
    """Body of a worker process: run tasks until told to stop (``None``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    _exit_with_parent()
    from server.solve import run_job, warm_up

    warm_up()
    results.put(("ready", slot, None))
    while True:
        task = tasks.get()
        if task is None:
            return
        job_id, kind, request = task
        cancel.clear()
        results.put(("started", slot, job_id))
        try:
            field_name, result, progress = run_job(
                kind, request, lambda p, job_id=job_id: results.put(("progress", slot, (job_id, p))), cancel)
            state = JobState.CANCELLED if cancel.is_set() else JobState.DONE
            results.put(("finished", slot, (job_id, state.value, field_name, result, None, progress)))
        except Exception as exc:
            results.put(("finished", slot, (job_id, JobState.FAILED.value, None, None,
                                            status_of(exc).SerializeToString(), None)))


def _exit_with_parent() -> None:
    """End this worker as soon as the server process is gone (killed with SIGKILL, say): its
    jobs are re-run by the next server, and nobody would read its results."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@dataclass
class _Slot:
    index: int
    process: Any = None
    tasks: Any = None
    cancel: Any = None
    job_id: str | None = None
    started: float = 0.0
    deadline: float = float("inf")
    cancel_requested: float | None = None
    ready: bool = False
    spawned: float = 0.0


@dataclass
class _Watchers:
    condition: threading.Condition = field(default_factory=threading.Condition)
    versions: dict[str, int] = field(default_factory=dict)


class JobManager:
    """Accepts jobs into the store and a bounded queue, runs them on worker processes, and
    keeps the store up to date.

    Parameters
    ----------
    store
        The job store.
    workers
        Number of worker processes.
    max_queued
        Most jobs waiting for a worker; one more is refused with ``RESOURCE_EXHAUSTED``.
    max_attempts
        Times a job may be started; a job still running at a restart (or whose worker died) is
        re-run while it has attempts left, else marked failed.
    time_limit_of
        ``(kind, request) -> seconds``: the job's time limit, to stop runaway solves.
    """

    #: Seconds a solve may take beyond its time limit before its worker is terminated.
    overrun_grace_s = 60.0
    #: Seconds a cancelled solve gets to return its best solution before its worker is terminated.
    cancel_grace_s = 2.0

    def __init__(self, store: JobStore, workers: int, max_queued: int, *, max_attempts: int = 2,
                 time_limit_of: Callable[[str, bytes], float] | None = None) -> None:
        if workers < 1:
            raise CapacityError(f"need at least one worker ({workers})")
        self.store = store
        self.max_queued = max_queued
        self.max_attempts = max_attempts
        self._time_limit_of = time_limit_of or (lambda kind, request: 3600.0)
        self._ctx = mp.get_context("spawn")
        self._results = self._ctx.Queue()
        self._slots = [_Slot(i) for i in range(workers)]
        self._queue: deque[str] = deque()
        self._lock = threading.RLock()
        self._watch = _Watchers()
        self._stopping = False
        self._collector: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> list[str]:
        """Recover the store, start the workers and the collector; returns the ids of jobs
        marked failed by the recovery."""
        import grpc

        reason = status_proto(grpc.StatusCode.ABORTED, f"the server stopped while the job was running, "
                                                       f"{self.max_attempts} times; not retried again")
        queued, failed = self.store.recover(self.max_attempts, reason.SerializeToString())
        if queued or failed:
            log.info("recovered jobs", extra={"fields": {"requeued": len(queued), "failed": len(failed)}})
        with self._lock:
            self._queue.extend(queued)
            for slot in self._slots:
                self._spawn(slot)
        self._collector = threading.Thread(target=self._collect, name="job-collector", daemon=True)
        self._collector.start()
        return failed

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Block until every worker has imported the solvers."""
        end = time.monotonic() + timeout
        while True:
            with self._lock:
                if all(s.ready for s in self._slots):
                    return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the workers. Running jobs go back to QUEUED (their attempt not counted) and,
        like the queued ones, run at the next start."""
        with self._lock:
            self._stopping = True
            running = [s.job_id for s in self._slots if s.job_id]
            for slot in self._slots:
                if slot.tasks is not None:
                    slot.tasks.put(None)
                if slot.job_id is not None and slot.process is not None:
                    slot.process.kill()
        for slot in self._slots:
            if slot.process is not None:
                slot.process.join(timeout=5.0)
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(timeout=2.0)
        for job_id in running:
            self.store.requeue(job_id, refund_attempt=True)
            self._notify(job_id)
        self._results.put(("stop", -1, None))
        if self._collector is not None:
            self._collector.join(timeout=5.0)

    # ------------------------------------------------------------------ API
    def submit(self, kind: str, request: bytes, request_id: str = "") -> tuple[JobRecord, bool]:
        """Store and queue a job (or return the job created earlier with ``request_id``).

        Raises
        ------
        CapacityError
            If :attr:`max_queued` jobs are already waiting.
        ServiceError
            ``UNAVAILABLE`` while the server shuts down.
        """
        import grpc

        with self._lock:
            if request_id:
                existing = self.store.by_request_id(request_id)
                if existing is not None and existing.kind == kind:
                    return existing, False
            if self._stopping:
                raise ServiceError(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
            if len(self._queue) >= self.max_queued:
                raise CapacityError(f"the job queue is full ({self.max_queued} waiting); retry later")
            record, created = self.store.create(kind, request, request_id)
            if created:
                self._queue.append(record.id)
                self._dispatch()
        self._notify(record.id)
        return record, created

    def get(self, job_id: str) -> JobRecord:
        """The stored job.

        Raises
        ------
        NotFoundError
            If there is no such job.
        """
        record = self.store.get(job_id)
        if record is None:
            raise NotFoundError("name", f"no operation {job_id!r}")
        return record

    def cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job (at once) or a running one (its solver stops within about a
        second and the best solution so far is kept). Finished jobs are left as they are."""
        record = self.get(job_id)
        with self._lock:
            if job_id in self._queue:
                self._queue.remove(job_id)
                self.store.finish(job_id, JobState.CANCELLED)
            elif any(s.job_id == job_id for s in self._slots):
                self._cancel_running(job_id)
            elif record.state == JobState.QUEUED:  # accepted but not in this process's queue
                self.store.finish(job_id, JobState.CANCELLED)
        self._notify(job_id)
        return self.get(job_id)

    def wait(self, job_id: str, timeout: float, since: int | None = None) -> tuple[JobRecord, int]:
        """Block until the job changes (``since`` given: its version differs from ``since``) or
        is done, or ``timeout`` passes; returns the job and its version."""
        end = time.monotonic() + timeout
        cond = self._watch.condition
        with cond:
            while True:
                version = self._watch.versions.get(job_id, 0)
                record = self.get(job_id)
                if record.state.done or (since is not None and version != since):
                    return record, version
                left = end - time.monotonic()
                if left <= 0:
                    return record, version
                cond.wait(min(left, 1.0))

    def queue_length(self) -> int:
        """Jobs waiting for a worker."""
        with self._lock:
            return len(self._queue)

    # ------------------------------------------------------------------ internals
    def _notify(self, job_id: str) -> None:
        with self._watch.condition:
            self._watch.versions[job_id] = self._watch.versions.get(job_id, 0) + 1
            self._watch.condition.notify_all()

    def _spawn(self, slot: _Slot) -> None:
        slot.tasks = self._ctx.Queue()
        slot.cancel = self._ctx.Event()
        slot.ready = False
        slot.job_id = None
        slot.cancel_requested = None
        slot.process = self._ctx.Process(target=_worker_main, args=(slot.index, slot.tasks, self._results, slot.cancel),
                                         name=f"routeplanner-worker-{slot.index}", daemon=True)
        slot.spawned = time.monotonic()
        slot.process.start()

    def _dispatch(self) -> None:
        # with self._lock held
        if self._stopping:
            return
        for slot in self._slots:
            if not self._queue:
                return
            if slot.ready and slot.job_id is None:
                job_id = self._queue.popleft()
                record = self.store.get(job_id)
                if record is None or record.state != JobState.QUEUED:
                    continue
                self.store.mark_running(job_id)
                slot.job_id = job_id
                slot.started = time.monotonic()
                slot.cancel_requested = None
                try:
                    limit = self._time_limit_of(record.kind, record.request)
                except Exception:
                    limit = 3600.0
                slot.deadline = slot.started + limit + self.overrun_grace_s
                slot.tasks.put((job_id, record.kind, record.request))
                self._notify(job_id)

    def _cancel_running(self, job_id: str) -> None:
        with self._lock:
            for slot in self._slots:
                if slot.job_id == job_id and slot.cancel_requested is None:
                    slot.cancel.set()
                    slot.cancel_requested = time.monotonic()

    def _collect(self) -> None:
        while True:
            try:
                kind, slot_index, payload = self._results.get(timeout=0.25)
            except queue.Empty:
                self._check_workers()
                continue
            except (EOFError, OSError):
                return
            if kind == "stop":
                return
            try:
                self._handle(kind, slot_index, payload)
            except Exception:
                log.exception("job collector failed on a %s message", kind)
            self._check_workers()

    def _handle(self, kind: str, slot_index: int, payload: Any) -> None:
        slot = self._slots[slot_index]
        if kind == "ready":
            with self._lock:
                slot.ready = True
                self._dispatch()
        elif kind == "progress":
            job_id, progress = payload
            if slot.job_id == job_id:
                self.store.set_progress(job_id, progress)
                self._notify(job_id)
        elif kind == "finished":
            job_id, state, field_name, result, error, progress = payload
            with self._lock:
                if slot.job_id != job_id:
                    return  # a job already given up on (its worker was replaced)
                self.store.finish(job_id, JobState(state), result_field=field_name, result=result, error=error,
                                  progress=progress)
                slot.job_id = None
                slot.cancel_requested = None
                self._dispatch()
            self._notify(job_id)
            log.info("job finished", extra={"fields": {"operation": job_id, "state": state,
                                                       "seconds": round(time.monotonic() - slot.started, 3)}})

    def _check_workers(self) -> None:
        import grpc

        now = time.monotonic()
        replaced: list[str] = []
        with self._lock:
            if self._stopping:
                return
            for slot in self._slots:
                alive = slot.process is not None and slot.process.is_alive()
                overdue = slot.job_id is not None and (
                    now > slot.deadline
                    or (slot.cancel_requested is not None and now - slot.cancel_requested > self.cancel_grace_s))
                if alive and not overdue:
                    continue
                if not alive and not slot.ready and now - slot.spawned < 5.0:
                    continue  # a worker failing at start-up is retried every 5 s, not in a loop
                job_id = slot.job_id
                if alive:
                    slot.process.kill()
                slot.process.join(timeout=2.0)
                if job_id is not None:
                    record = self.store.get(job_id)
                    if slot.cancel_requested is not None:
                        self.store.finish(job_id, JobState.CANCELLED)
                    elif overdue:
                        error = status_proto(grpc.StatusCode.DEADLINE_EXCEEDED,
                                             "the solver overran its time limit and was stopped")
                        self.store.finish(job_id, JobState.FAILED, error=error.SerializeToString())
                    elif record is not None and record.attempts < self.max_attempts:
                        self.store.requeue(job_id)
                        self._queue.appendleft(job_id)
                    else:
                        error = status_proto(grpc.StatusCode.ABORTED,
                                             f"the worker process died (exit code {slot.process.exitcode})")
                        self.store.finish(job_id, JobState.FAILED, error=error.SerializeToString())
                    replaced.append(job_id)
                log.warning("replacing worker", extra={"fields": {"slot": slot.index, "operation": job_id,
                                                                  "pid": slot.process.pid}})
                self._spawn(slot)
        for job_id in replaced:
            self._notify(job_id)


def default_workers() -> int:
    """One worker per CPU, at least one."""
    return max(1, os.cpu_count() or 1)
