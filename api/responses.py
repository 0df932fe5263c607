"""Answers shared by the API's views: 202 for jobs, the requesting user, and the `force` query flag."""
from django.http import HttpResponse
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from shared.errors import ValidationFailed
from shared.presenters import job_data

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


def requester(request):
    """The authenticated user behind a request, or None."""
    user = getattr(request, "user", None)
    return user if user is not None and getattr(user, "is_authenticated", False) else None


_JSON = JSONRenderer()


def accepted(job, created=True, body=None):
    """202 with where to poll the job; an idempotent replay says so in a header.

    Rendered here by DRF's own JSON renderer (the same bytes as any other answer) into a plain HttpResponse:
    the 202 of every job request is the API's hottest answer, and a DRF Response would go through a template
    response and the negotiated renderer again for a body that is always JSON.
    """
    response = HttpResponse(_JSON.render(body if body is not None else job_data(job)),
                            status=status.HTTP_202_ACCEPTED, content_type="application/json")
    response["Location"] = f"/api/v1/jobs/{job.pk}"
    response["Retry-After"] = "2"
    if not created:
        response["Idempotent-Replayed"] = "true"
    return response


def force_param(request):
    value = request.query_params.get("force", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationFailed("force must be true or false.", errors={"force": ["Must be true or false."]})


def removal_response(jobs):
    """204 when deleted at once; 202 with the stop jobs when deleting waits for them."""
    if not jobs:
        return Response(status=status.HTTP_204_NO_CONTENT)
    response = accepted(jobs[0], body={"detail": "Stopping on Marathon first; deleted once stopped.",
                                       "jobs": [job_data(job) for job in jobs]})
    return response
