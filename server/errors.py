"""From planner exceptions to gRPC statuses with ``google.rpc`` details.

Every servicer method runs under :func:`guard`: a :class:`~planner.errors.PlannerError` becomes the
status its class stands for (``ValidationError`` -> ``INVALID_ARGUMENT`` with a
``google.rpc.BadRequest`` naming every field path), and anything unexpected becomes ``INTERNAL``
with the traceback in the server log, so no exception reaches a client as ``UNKNOWN``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from planner.errors import (
    CapacityError,
    DataFormatError,
    DataNotFoundError,
    FieldViolation,
    InfeasibleError,
    NotFoundError,
    PlannerError,
    ValidationError,
)

log = logging.getLogger("routeplanner.server")


class ServiceError(PlannerError):
    """A condition of the service itself (not of the input) with its own status code:
    ``UNAVAILABLE`` while networks load, ``DEADLINE_EXCEEDED``, ``UNAUTHENTICATED``...

    Parameters
    ----------
    code
        The gRPC status code.
    message
        What happened, for the client.
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        self.code = code
        super().__init__(message)


def prefixed(prefix: str, error: ValidationError) -> ValidationError:
    """``error`` with every field path under ``prefix`` (``problem`` + ``capacity`` ->
    ``problem.capacity``)."""
    return ValidationError([FieldViolation(f"{prefix}.{v.field}" if prefix else v.field, v.reason)
                            for v in error.violations])


def classify(exc: BaseException) -> tuple[grpc.StatusCode, str, tuple[FieldViolation, ...]]:
    """The status code, message and field violations ``exc`` stands for."""
    if isinstance(exc, ServiceError):
        return exc.code, str(exc), ()
    if isinstance(exc, ValidationError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), exc.violations
    if isinstance(exc, DataFormatError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), ()
    if isinstance(exc, NotFoundError):
        return grpc.StatusCode.NOT_FOUND, str(exc), ()
    if isinstance(exc, DataNotFoundError):
        return grpc.StatusCode.NOT_FOUND, str(exc), ()
    if isinstance(exc, InfeasibleError):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc), (FieldViolation(exc.field, exc.reason),)
    if isinstance(exc, CapacityError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), ()
    if isinstance(exc, PlannerError):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc), ()
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see the server log", ()


def status_proto(code: grpc.StatusCode, message: str,
                 violations: Iterable[FieldViolation] = ()) -> status_pb2.Status:
    """A ``google.rpc.Status``; field violations go in a ``google.rpc.BadRequest`` detail."""
    status = status_pb2.Status(code=code.value[0], message=message)
    violations = list(violations)
    if violations:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.reason) for v in violations]))
        status.details.append(detail)
    return status


def status_of(exc: BaseException) -> status_pb2.Status:
    """The ``google.rpc.Status`` of an exception (for failed operations)."""
    return status_proto(*classify(exc))


def abort(context: grpc.ServicerContext, exc: BaseException) -> None:
    """End the call with the status of ``exc`` (raises, as ``context.abort`` does)."""
    code, message, violations = classify(exc)
    if code == grpc.StatusCode.INTERNAL:
        log.error("internal error", exc_info=exc)
    context.abort_with_status(rpc_status.to_status(status_proto(code, message, violations)))


def guard(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a servicer method (unary or server-streaming) so that every exception it
    raises ends the call with a meaningful status instead of ``UNKNOWN``."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def stream(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                yield from method(self, request, context)
            except Exception as exc:
                if _already_aborted(context):
                    raise
                abort(context, exc)
        return stream

    @functools.wraps(method)
    def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as exc:
            if _already_aborted(context):
                raise
            abort(context, exc)
    return unary


def _already_aborted(context: grpc.ServicerContext) -> bool:
    code = context.code() if hasattr(context, "code") else None
    return code is not None and code != grpc.StatusCode.OK


#: ``google.rpc.Code`` numbers, for tests and clients that read statuses from operations.
CODES = {name: getattr(code_pb2, name) for name in ("OK", "INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION",
                                                    "RESOURCE_EXHAUSTED", "CANCELLED", "INTERNAL", "UNAVAILABLE")}
