"""DRF exception handler rendering every API error as a problem with field paths."""
import logging

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from api.problems import PROBLEM_CONTENT_TYPE, flatten_errors, problem_body
from shared.errors import DomainError

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.NotFound: "not_found",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.Throttled: "throttled",
}


def _respond(status_code, body, headers=None):
    response = Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE, headers=headers)
    return response


def problem_exception_handler(exc, context):
    request = context.get("request")
    instance = request.path if request is not None else None
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, DomainError):
        body = problem_body(exc.status, code=exc.code, detail=exc.message, errors=exc.errors or None,
                            instance=instance, **exc.extra)
        return _respond(exc.status, body, exc.headers)

    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem_body(400, code="invalid", detail="The request has invalid fields.", errors=errors,
                            instance=instance)
        return _respond(400, body)

    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None) or exc.default_code
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc, exceptions.ParseError):
            errors = {"body": [detail]}
        else:
            errors = None
        body = problem_body(exc.status_code, code=str(code), detail=detail, errors=errors, instance=instance)
        return _respond(exc.status_code, body, headers)

    if isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    ):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        body = problem_body(503, code="database_unavailable", detail="The database is not reachable; retry later.",
                            instance=instance)
        return _respond(status.HTTP_503_SERVICE_UNAVAILABLE, body, {"Retry-After": "5"})

    logger.exception("unhandled error on %s", instance)
    body = problem_body(500, code="internal_error", detail="An unexpected error occurred.", instance=instance)
    return _respond(500, body)
