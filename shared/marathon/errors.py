"""Typed errors of the Marathon client: each says whether retrying can help and carries Marathon's details."""
from __future__ import annotations

from typing import Any


class MarathonError(Exception):
    """Anything that went wrong talking to Marathon.

    ``code`` is stable (it ends up in job records), ``message`` is human text (Marathon's own when it sent one),
    ``details`` is a JSON-serialisable list of dicts (Marathon's ``[{"path", "errors"}]`` for rejections),
    ``status`` the HTTP status when there was an answer, ``retryable`` whether the same call may succeed later.
    """

    code = "marathon_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: list[dict[str, Any]] | None = None,
        url: str | None = None,
        retryable: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = list(details or [])
        self.url = url
        if retryable is not None:
            self.retryable = retryable

    def to_dict(self) -> dict[str, Any]:
        """The shape a job stores as its last error."""
        return {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "details": self.details,
            "status": self.status,
        }

    def __str__(self) -> str:
        status = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{self.code}: {status}{self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, retryable={self.retryable!r})"


class MarathonUnavailable(MarathonError):
    """No Marathon answered usefully: refused, timed out, 502/503/504, no leader, stream broken. Retry later."""

    code = "marathon_unavailable"
    retryable = True


class MarathonConflict(MarathonError):
    """409: the app is locked by running deployments (``deployment_ids``); retry once they end, or force.

    A 409 without deployments ("already exists") is not retryable as is.
    """

    code = "marathon_conflict"
    retryable = True

    def __init__(self, message: str, *, deployment_ids: tuple[str, ...] | list[str] = (), **kwargs):
        deployment_ids = tuple(deployment_ids)
        kwargs.setdefault("details", [{"id": deployment_id} for deployment_id in deployment_ids])
        kwargs.setdefault("retryable", bool(deployment_ids))
        super().__init__(message, **kwargs)
        self.deployment_ids = deployment_ids


class MarathonRejected(MarathonError):
    """400/422: Marathon refused the request itself; ``details`` lists ``{"path", "errors"}``. Never retry."""

    code = "marathon_rejected"
    retryable = False


class MarathonNotFound(MarathonError):
    """404: the app, group or deployment does not exist."""

    code = "marathon_not_found"
    retryable = False


class MarathonUnauthorized(MarathonError):
    """401/403: credentials missing, wrong, or not allowed to do this."""

    code = "marathon_unauthorized"
    retryable = False
