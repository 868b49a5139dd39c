"""The job store: every accepted operation in an embedded SQLite database.

A row holds the serialized request, the state, the latest progress snapshot, the result and the
error, so a restarted server lists every operation it ever accepted. Writes are transactions in
WAL mode: a server killed with SIGKILL loses at most the progress snapshot being written, never an
accepted operation or a stored result.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from planner.errors import ValidationError


class JobState(StrEnum):
    """Where a job is in its life (the ``OperationState`` names without the prefix)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def done(self) -> bool:
        """Whether the job is finished."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    """One stored job.

    Parameters
    ----------
    id
        Operation id (the ``{id}`` of ``operations/{id}``).
    seq
        Insertion order (newest has the largest).
    kind
        ``vrp`` or ``traffic_assignment``.
    state
        Its state.
    request_id
        The caller's idempotency key, or ``""``.
    request
        The serialized create request.
    create_time, update_time
        Unix seconds.
    attempts
        How many times a worker started it.
    progress
        Serialized ``Progress`` message, or ``None``.
    result_field
        Name of the ``Operation.result`` field the result goes in, or ``None``.
    result
        Serialized result message, or ``None``.
    error
        Serialized ``google.rpc.Status``, or ``None``.
    """

    id: str
    seq: int
    kind: str
    state: JobState
    request_id: str
    request: bytes
    create_time: float
    update_time: float
    attempts: int
    progress: bytes | None
    result_field: str | None
    result: bytes | None
    error: bytes | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    request_id TEXT,
    request BLOB NOT NULL,
    create_time REAL NOT NULL,
    update_time REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    progress BLOB,
    result_field TEXT,
    result BLOB,
    error BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_request_id ON jobs(request_id) WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""
_COLUMNS = ("id, seq, kind, state, request_id, request, create_time, update_time, attempts, progress, "
            "result_field, result, error")


def _record(row: tuple) -> JobRecord:
    (id_, seq, kind, state, request_id, request, create_time, update_time, attempts, progress, result_field,
     result, error) = row
    return JobRecord(id_, seq, kind, JobState(state), request_id or "", bytes(request), create_time, update_time,
                     attempts, None if progress is None else bytes(progress), result_field,
                     None if result is None else bytes(result), None if error is None else bytes(error))


class JobStore:
    """Thread-safe access to the jobs database.

    Parameters
    ----------
    path
        The SQLite file (created with its folder when missing), or ``":memory:"``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ reads
    def get(self, job_id: str) -> JobRecord | None:
        """The job ``job_id``, or ``None``."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _record(row)

    def by_request_id(self, request_id: str) -> JobRecord | None:
        """The job created with idempotency key ``request_id``, or ``None``."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
        return None if row is None else _record(row)

    def list(self, limit: int = 100, before_seq: int | None = None, state: JobState | None = None) -> list[JobRecord]:
        """Jobs newest first: at most ``limit``, older than ``before_seq``, in ``state``."""
        where, args = [], []
        if before_seq is not None:
            where.append("seq < ?")
            args.append(before_seq)
        if state is not None:
            where.append("state = ?")
            args.append(state.value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs {clause} ORDER BY seq DESC LIMIT ?",
                                    (*args, limit)).fetchall()
        return [_record(r) for r in rows]

    def counts(self) -> dict[JobState, int]:
        """Number of jobs in every state."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        counts = dict.fromkeys(JobState, 0)
        counts.update({JobState(s): n for s, n in rows})
        return counts

    # ------------------------------------------------------------------ writes
    def create(self, kind: str, request: bytes, request_id: str = "") -> tuple[JobRecord, bool]:
        """Store a new QUEUED job; with a ``request_id`` already used, the existing job.

        Returns
        -------
        record, created
            The job, and whether it was created by this call.

        Raises
        ------
        ValidationError
            ``request_id`` reused for a different kind of operation.
        """
        now = time.time()
        job_id = uuid.uuid4().hex
        with self._transaction() as db:
            if request_id:
                row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
                if row is not None:
                    existing = _record(row)
                    if existing.kind != kind:
                        raise ValidationError("request_id", f"already used by a {existing.kind} operation")
                    return existing, False
            db.execute("INSERT INTO jobs (id, kind, state, request_id, request, create_time, update_time) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (job_id, kind, JobState.QUEUED.value, request_id or None, request, now, now))
            row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row), True

    def mark_running(self, job_id: str) -> None:
        """A worker starts the job (one more attempt)."""
        with self._transaction() as db:
            db.execute("UPDATE jobs SET state = ?, attempts = attempts + 1, update_time = ? WHERE id = ?",
                       (JobState.RUNNING.value, time.time(), job_id))

    def requeue(self, job_id: str, *, refund_attempt: bool = False) -> None:
        """Put a running job back in the QUEUED state: its worker died (the attempt counts) or
        the server is shutting down (``refund_attempt``: it does not)."""
        with self._transaction() as db:
            db.execute("UPDATE jobs SET state = ?, attempts = MAX(attempts - ?, 0), update_time = ? "
                       "WHERE id = ? AND state = ?",
                       (JobState.QUEUED.value, int(refund_attempt), time.time(), job_id, JobState.RUNNING.value))

    def set_progress(self, job_id: str, progress: bytes) -> None:
        """Store the latest progress snapshot of a running job."""
        with self._transaction() as db:
            db.execute("UPDATE jobs SET progress = ?, update_time = ? WHERE id = ? AND state = ?",
                       (progress, time.time(), job_id, JobState.RUNNING.value))

    def finish(self, job_id: str, state: JobState, *, result_field: str | None = None, result: bytes | None = None,
               error: bytes | None = None, progress: bytes | None = None) -> None:
        """Record the end of a job: its final state, result and error."""
        if not state.done:
            raise ValidationError("state", f"{state} is not a final state")
        with self._transaction() as db:
            db.execute("UPDATE jobs SET state = ?, result_field = ?, result = ?, error = ?, "
                       "progress = COALESCE(?, progress), update_time = ? WHERE id = ?",
                       (state.value, result_field, result, error, progress, time.time(), job_id))

    def recover(self, max_attempts: int, failed_error: bytes) -> tuple[list[str], list[str]]:
        """After a restart: jobs that were RUNNING go back to QUEUED while they have attempts
        left, else to FAILED with ``failed_error``.

        Returns
        -------
        queued, failed
            Ids of the jobs to run (oldest first, including those that were QUEUED), and of
            those marked failed.
        """
        now = time.time()
        with self._transaction() as db:
            running = db.execute("SELECT id, attempts FROM jobs WHERE state = ? ORDER BY seq",
                                 (JobState.RUNNING.value,)).fetchall()
            failed = [i for i, a in running if a >= max_attempts]
            retry = [i for i, a in running if a < max_attempts]
            db.executemany("UPDATE jobs SET state = ?, error = ?, update_time = ? WHERE id = ?",
                           [(JobState.FAILED.value, failed_error, now, i) for i in failed])
            db.executemany("UPDATE jobs SET state = ?, update_time = ? WHERE id = ?",
                           [(JobState.QUEUED.value, now, i) for i in retry])
            queued = [r[0] for r in db.execute("SELECT id FROM jobs WHERE state = ? ORDER BY seq",
                                               (JobState.QUEUED.value,)).fetchall()]
        return queued, failed
