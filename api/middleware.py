"""Request ids on every request, and problem-format answers for errors raised outside DRF views."""
import logging
import re
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse

from api.listing_cache import cached_listing, listing_key
from api.problems import PROBLEM_CONTENT_TYPE, problem_response
from shared.logctx import bind_request, get_logger

logger = logging.getLogger(__name__)
request_logger = get_logger("maracker.request")

# Paths that serve HTML to people keep Django's own error pages; everything else is API.
HTML_PREFIXES = ("/catalog", "/admin", "/static", "/accounts", "/api/docs")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from the client or makes one, and returns it on the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        request.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        bind_request(request.request_id)  # every log line of this request carries request_id
        started = time.monotonic()
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        request_logger.info("request", method=request.method, path=request.path, status=response.status_code,
                            ms=round((time.monotonic() - started) * 1000, 1))
        return response


def _is_api(request):
    return not request.path.startswith(HTML_PREFIXES)


class ProblemMiddleware:
    """Size limit before any parsing, and problems instead of HTML error pages on API paths."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            too_large = int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        except ValueError:
            return problem_response(400, code="malformed_request", detail="Content-Length is not a number.",
                                    errors={"Content-Length": ["Not a number."]}, instance=request.path)
        if too_large:
            return problem_response(
                413, code="request_too_large",
                detail=f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                instance=request.path,
            )
        response = self.get_response(request)
        if (
            response.status_code in (404, 405, 500)
            and _is_api(request)
            and not response.get("Content-Type", "").startswith(("application/json", PROBLEM_CONTENT_TYPE))
        ):
            code = {404: "not_found", 405: "method_not_allowed", 500: "internal_error"}[response.status_code]
            detail = {
                404: f"Nothing is found at {request.path}.",
                405: f"Method {request.method} is not allowed here.",
                500: "An unexpected error occurred.",
            }[response.status_code]
            headers = {"Allow": response["Allow"]} if response.has_header("Allow") else None
            return problem_response(response.status_code, code=code, detail=detail, instance=request.path,
                                    headers=headers)
        return response

    def process_exception(self, request, exception):
        if not _is_api(request):
            return None
        if isinstance(exception, (OperationalError, InterfaceError)) or isinstance(exception, DatabaseError):
            logger.warning("database unavailable on %s: %s", request.path, exception.__class__.__name__)
            return problem_response(503, code="database_unavailable",
                                    detail="The database is not reachable; retry later.",
                                    instance=request.path, headers={"Retry-After": "5"})
        logger.exception("unhandled error on %s", request.path)
        return problem_response(500, code="internal_error", detail="An unexpected error occurred.",
                                instance=request.path)


_PUBLIC_LISTINGS = re.compile(r"^/(api/v1/)?apps/?$")
_ANY_JSON = frozenset({"", "*/*", "application/json", "application/*"})


class PublicListingMiddleware:
    """Anonymous reads of the public catalog listing answered from the listing cache, before the session,
    authentication and CSRF middleware and the DRF view run: the most frequent request of the catalog, and one
    whose answer depends on nobody's identity.

    Taken only when the answer is certain to be the cached page: a GET of `/api/v1/apps/` or `/apps`, the
    catalog public (PUBLIC_CATALOG), no Authorization header and no session cookie (so no 401 for a bad token
    and nothing personal is skipped), an Accept the JSON renderer satisfies, and JSON the only renderer (with
    DEBUG's browsable API, the view negotiates). A miss goes the whole way, and the view caches what it
    renders; the answer carries the headers the view's would.
    """

    def __init__(self, get_response):
        from rest_framework.settings import api_settings

        self.get_response = get_response
        self.enabled = len(api_settings.DEFAULT_RENDERER_CLASSES) == 1

    def __call__(self, request):
        if (
            self.enabled
            and request.method == "GET"
            and settings.PUBLIC_CATALOG
            and _PUBLIC_LISTINGS.match(request.path)
            and "HTTP_AUTHORIZATION" not in request.META
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and request.META.get("HTTP_ACCEPT", "").strip() in _ANY_JSON
        ):
            try:
                body = cached_listing(listing_key(request))
            except (OperationalError, InterfaceError):
                body = None  # the view answers (its own 503 problem)
            request.listing_cache_missed = body is None  # the view need not look again
            if body is not None:
                response = HttpResponse(body, content_type="application/json")
                response["Content-Length"] = str(len(body))
                response["Vary"] = "Cookie"
                response["Allow"] = "GET, POST, HEAD, OPTIONS"
                response["X-Frame-Options"] = "DENY"
                return response
        return self.get_response(request)
