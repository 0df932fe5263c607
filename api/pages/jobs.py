"""Job pages: buttons that create deploy/stop/restart/scale jobs, a job's live timeline, cancelling a job."""
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from api.pages.catalog import app_detail_context
from api.pages.forms import ScaleForm
from api.pages.permissions import can_change, change_required, ensure_can_change
from api.pages.wording import error_explanation
from shared.errors import DomainError, NotFound
from shared.models import JobKind
from shared.presenters import job_data, job_waiting_for
from shared.selectors.catalog import app_get
from shared.selectors.catalog_browse import deployment_for_marathon_app, job_timeline_since
from shared.selectors.jobs import config_for_job, job_events, job_get
from shared.services.jobs import job_create, job_request_cancel

ACTIONS = {"deploy": JobKind.DEPLOY, "stop": JobKind.STOP, "restart": JobKind.RESTART, "scale": JobKind.SCALE}
MAX_WAIT_SECONDS = 25


def _job_or_404(pk):
    try:
        return job_get(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


@change_required
@require_POST
def config_action(request, pk, action):
    """Record a job for one configuration, then show its page."""
    try:
        config = config_for_job(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None
    ensure_can_change(request.user, config)
    params = {"force": False}
    if action == "scale":
        form = ScaleForm(request.POST, prefix=f"c{config.pk}")
        if not form.is_valid():
            context = app_detail_context(request, app_get(config.app_id), scale_forms={config.pk: form})
            return render(request, "catalog/app_detail.html", context, status=400)
        params["instances"] = form.cleaned_data["instances"]
    try:
        job, _ = job_create(kind=ACTIONS[action], config=config, params=params, requested_by=request.user,
                            scope=str(request.user.pk))
    except DomainError as exc:
        messages.error(request, f"The {action} was not recorded: {exc.message}")
        return redirect(reverse("catalog:app-detail", args=[config.app.name]))
    return redirect(reverse("catalog:job-detail", args=[job.pk]))


def _summary_context(request, job):
    error = job.last_error or None
    return {"job": job, "error": error, "explanation": error_explanation(error and error.get("code")),
            "waiting_for": job_waiting_for(job), "deployment": deployment_for_marathon_app(job.marathon_app_id),
            "can_change": can_change(request.user, job)}


@require_GET
def job_detail(request, pk):
    job = _job_or_404(pk)
    events = list(job_events(job))
    return render(request, "catalog/job_detail.html", {
        **_summary_context(request, job), "events": events,
        "last_event_id": max((event.pk for event in events), default=0),
    })


@require_GET
def job_timeline(request, pk):
    """What the job page needs to move on: new timeline entries after `after`, the status panel, `terminal`.

    Waits up to `wait` seconds (at most 25) for something new, so the page need not poll in a tight loop.
    """
    try:
        after = int(request.GET.get("after", "0"))
        wait = min(max(float(request.GET.get("wait", "0")), 0.0), MAX_WAIT_SECONDS)
    except ValueError:
        return JsonResponse({"error": "after must be an integer and wait a number of seconds."}, status=400)
    try:
        job, events = job_timeline_since(pk, after=after, wait=wait)
    except NotFound as exc:
        return JsonResponse({"error": exc.message}, status=404)
    return JsonResponse({
        "job": job_data(job),
        "terminal": job.is_terminal,
        "last_event_id": max([after] + [event.pk for event in events]),
        "events_html": render_to_string("catalog/_job_events.html", {"events": events}, request=request),
        "summary_html": render_to_string("catalog/_job_summary.html", _summary_context(request, job),
                                         request=request),
    })


@change_required
@require_POST
def job_cancel(request, pk):
    job = _job_or_404(pk)
    ensure_can_change(request.user, job)
    try:
        job_request_cancel(job, actor=request.user)
    except DomainError:
        pass  # it ended meanwhile: its page says how
    return redirect(reverse("catalog:job-detail", args=[job.pk]))
