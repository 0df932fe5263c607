"""Catalog reads for people browsing: apps with their deployment state, filtered by whether they run."""
import time

from django.db.models import Exists, OuterRef, Prefetch, prefetch_related_objects

from shared.errors import ValidationFailed
from shared.models import Deployment, DeploymentStatus, Job, JobEvent
from shared.selectors.catalog import app_list
from shared.selectors.jobs import job_get

# A deployment in one of these states occupies Marathon: the app counts as deployed.
LIVE_STATUSES = (DeploymentStatus.DEPLOYING, DeploymentStatus.RUNNING, DeploymentStatus.UNHEALTHY)
DEPLOYED_FILTERS = ("", "live", "idle")
# When an app has several deployments, the one shown on its card is the most telling.
_STATE_ORDER = ("unhealthy", "deploying", "running", "failed", "stopped")


def app_browse(*, search=None, image=None, deployed=""):
    """app_list plus each app's deployments, optionally only apps that run (`live`) or don't (`idle`).

    A page of it costs a fixed number of queries: apps, containers, configurations, deployments.
    """
    if deployed not in DEPLOYED_FILTERS:
        raise ValidationFailed("The query has invalid parameters.",
                               errors={"deployed": ["Choose live, idle or nothing."]})
    queryset = app_list(search=search, image=image).prefetch_related(
        Prefetch("deployments", queryset=Deployment.objects.order_by("marathon_app_id"))
    )
    if deployed:
        live = Exists(Deployment.objects.filter(app=OuterRef("pk"), status__in=LIVE_STATUSES))
        queryset = queryset.filter(live) if deployed == "live" else queryset.exclude(live)
    return queryset


def app_deployment_state(app):
    """One word for the state of what runs of an app ("not deployed" when nothing ever did)."""
    statuses = {deployment.status for deployment in app.deployments.all()}
    for state in _STATE_ORDER:
        if state in statuses:
            return state
    return "not deployed"


def app_with_deployments(app):
    """The app (from app_get) with each configuration's deployment loaded in one query."""
    prefetch_related_objects([app], "marathon_configs__deployment")
    return app


def app_recent_jobs(app, *, limit=10):
    return list(Job.objects.filter(app=app).order_by("-created_at")[:limit])


def job_timeline_since(job_id, *, after=0, wait=0.0, poll_interval=0.25):
    """(job, events after the event id `after`), as soon as there is a new event or status, or after `wait` s.

    A finished job answers at once.
    """
    job = job_get(job_id)
    deadline = time.monotonic() + wait
    while True:
        events = list(JobEvent.objects.filter(job=job, id__gt=after).order_by("id"))
        if events or job.is_terminal or time.monotonic() >= deadline:
            if events:
                job = job_get(job_id)  # the status may have moved with them
            return job, events
        time.sleep(poll_interval)
        status = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status != job.status:
            job = job_get(job_id)


def deployment_for_marathon_app(marathon_app_id):
    """The deployment row of a Marathon app id, or None (never deployed, or not a Marathon job)."""
    if not marathon_app_id:
        return None
    return Deployment.objects.filter(marathon_app_id=marathon_app_id).first()
