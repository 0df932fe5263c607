"""Typed errors of the scheduler client: each says whether retrying can help and carries the scheduler's details."""
from __future__ import annotations

from typing import Any


class SchedulerError(Exception):
    """Anything that went wrong talking to the scheduler.

    ``code`` is stable (it ends up in job records), ``message`` human text (the scheduler's own when it sent one),
    ``details`` a JSON-serialisable list (Metronome's ``[{"path", "errors"}]`` on 422), ``status`` the HTTP status
    when there was an answer, ``retryable`` whether the same call may succeed later.
    """

    code = "scheduler_error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, details: list[Any] | None = None,
                 url: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = list(details or [])
        self.url = url

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable,
                "details": self.details, "status": self.status}

    def __str__(self) -> str:
        status = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{self.code}: {status}{self.message}"


class SchedulerUnavailable(SchedulerError):
    """No scheduler answered usefully: refused, timed out, 5xx. Retry later."""

    code = "scheduler_unavailable"
    retryable = True


class SchedulerRejected(SchedulerError):
    """400/409/422: the scheduler refused the request itself (``details`` says why). Never retry as is."""

    code = "scheduler_rejected"


class SchedulerNotFound(SchedulerError):
    """404: the job or run does not exist."""

    code = "scheduler_not_found"


class SchedulerUnauthorized(SchedulerError):
    """401/403: credentials missing, wrong, or not allowed."""

    code = "scheduler_unauthorized"
