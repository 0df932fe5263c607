"""Domain errors raised by services and selectors; the HTTP layer renders them as problems."""


class DomainError(Exception):
    """An error a caller can act on: it carries an HTTP-like status, a stable code and field errors."""

    status = 400
    code = "invalid"

    def __init__(self, message, *, code=None, errors=None, headers=None, **extra):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors = errors or {}
        self.headers = headers or {}
        self.extra = extra


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class IllegalTransition(DomainError):
    """A job was asked to move to a state it cannot reach from where it is (or another worker moved it)."""

    status = 409
    code = "illegal_transition"
