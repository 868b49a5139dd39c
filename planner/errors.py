"""The one exception hierarchy of routeplanner.

Every problem that cannot be solved as given raises a subclass of :class:`PlannerError` whose
message names the offending field and the reason, e.g. ``clients[17].demand: negative (-3)``.
The server maps the classes to gRPC status codes:

=========================  ======================
exception                  gRPC status
=========================  ======================
:class:`ValidationError`   ``INVALID_ARGUMENT``
:class:`DataFormatError`   ``INVALID_ARGUMENT``
:class:`NotFoundError`     ``NOT_FOUND``
:class:`InfeasibleError`   ``FAILED_PRECONDITION``
:class:`CapacityError`     ``RESOURCE_EXHAUSTED``
=========================  ======================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class PlannerError(Exception):
    """Base class of every error routeplanner raises on purpose."""


@dataclass(frozen=True)
class FieldViolation:
    """One violated constraint on one field of an input.

    Parameters
    ----------
    field
        Path of the field in the input, in the style ``clients[17].demand``.
    reason
        Why the value is not acceptable, with the offending value where it helps.
    """

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ValidationError(PlannerError, ValueError):
    """An input value is invalid; carries one or more :class:`FieldViolation`.

    Examples
    --------
    >>> raise ValidationError("clients[17].demand", "negative (-3)")
    Traceback (most recent call last):
    ...
    planner.errors.ValidationError: clients[17].demand: negative (-3)
    """

    def __init__(self, field: str | Iterable[FieldViolation], reason: str | None = None):
        if isinstance(field, str):
            if reason is None:
                raise TypeError("ValidationError(field, reason) needs a reason")
            violations: tuple[FieldViolation, ...] = (FieldViolation(field, reason),)
        else:
            violations = tuple(field)
            if not violations:
                raise TypeError("ValidationError needs at least one violation")
        self.violations = violations
        super().__init__("; ".join(str(v) for v in violations))

    @property
    def field(self) -> str:
        """The field of the first violation."""
        return self.violations[0].field

    @property
    def reason(self) -> str:
        """The reason of the first violation."""
        return self.violations[0].reason


class DataFormatError(PlannerError, ValueError):
    """A data file could not be read: wrong format or malformed content.

    Parameters
    ----------
    path
        The file.
    reason
        What is wrong, naming the section or field.
    line
        1-based line number where the problem was found, if known.
    """

    def __init__(self, path: str | Path, reason: str, line: int | None = None):
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")


class DataNotFoundError(PlannerError, FileNotFoundError):
    """A data file or data set does not exist where it was looked for."""

    def __init__(self, path: str | Path, hint: str = ""):
        self.path = Path(path)
        message = f"{self.path}: no such file or directory"
        super().__init__(f"{message}. {hint}" if hint else message)


class NotFoundError(PlannerError, LookupError):
    """A named thing (node id, solver, network, zone) does not exist.

    Parameters
    ----------
    field
        What was looked up, e.g. ``node`` or ``solver``.
    reason
        Which value was not found, and where it was looked for.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    def __str__(self) -> str:  # KeyError-style quoting would otherwise wrap the message
        return f"{self.field}: {self.reason}"


class InfeasibleError(PlannerError):
    """A well-formed problem has no solution as given (e.g. an OD pair with no path).

    Parameters
    ----------
    field
        The part of the problem that cannot be satisfied, e.g. ``demand[3->7]``.
    reason
        Why it cannot be satisfied.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class CapacityError(PlannerError):
    """A resource limit was reached (queue full, problem too large for the configured limits)."""
