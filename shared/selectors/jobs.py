"""Reads of jobs, their timelines and deployments."""
import time
import uuid


from shared.errors import NotFound, ValidationFailed
from shared.models import Deployment, Job, JobEvent, JobKind, JobStatus


def _uuid(value, field="id"):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No job has the id {value!r}.", errors={field: ["Not a job id."]}) from None


def job_get(job_id):
    job = Job.objects.select_related("blocked_by").filter(pk=_uuid(job_id)).first()
    if job is None:
        raise NotFound(f"No job has the id {job_id}.")
    return job


def job_wait(job_id, *, seconds, poll_interval=0.2):
    """The job, as soon as its status differs from what it was when asked, or after `seconds`."""
    job = job_get(job_id)
    initial = job.status
    deadline = time.monotonic() + seconds
    while job.status == initial and not job.is_terminal and time.monotonic() < deadline:
        time.sleep(poll_interval)
        status = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status != initial:
            job = job_get(job_id)
            break
    return job


def job_list(*, status=None, kind=None, app=None, config=None):
    queryset = Job.objects.select_related("blocked_by").order_by("-created_at")
    errors = {}
    if status:
        statuses = status.split(",")
        bad = [s for s in statuses if s not in JobStatus.values]
        if bad:
            errors["status"] = [f"Unknown status {', '.join(bad)}; one of {', '.join(JobStatus.values)}."]
        queryset = queryset.filter(status__in=statuses)
    if kind:
        kinds = kind.split(",")
        bad = [k for k in kinds if k not in JobKind.values]
        if bad:
            errors["kind"] = [f"Unknown kind {', '.join(bad)}; one of {', '.join(JobKind.values)}."]
        queryset = queryset.filter(kind__in=kinds)
    if app:
        if str(app).isdigit():
            queryset = queryset.filter(app_id=int(app))
        else:
            queryset = queryset.filter(app_name=app)
    if config:
        if not str(config).isdigit():
            errors["config"] = ["Must be a configuration id (an integer)."]
        else:
            queryset = queryset.filter(config_ref=int(config))
    if errors:
        raise ValidationFailed("Invalid filters.", errors=errors)
    return queryset


def job_events(job):
    return JobEvent.objects.filter(job=job).order_by("at", "id")


def deployment_list(*, status=None, app=None):
    queryset = Deployment.objects.select_related("config", "app").order_by("marathon_app_id")
    if status:
        queryset = queryset.filter(status__in=status.split(","))
    if app:
        queryset = queryset.filter(app_id=int(app)) if str(app).isdigit() else queryset.filter(app__name=app)
    return queryset


def deployment_get(pk):
    deployment = Deployment.objects.select_related("config", "app").filter(pk=pk).first()
    if deployment is None:
        raise NotFound(f"No deployment has the id {pk}.")
    return deployment


def active_job_for(marathon_app_id):
    return (
        Job.objects.filter(marathon_app_id=marathon_app_id, status__in=["queued", "running", "waiting"])
        .order_by("created_at")
        .first()
    )




def config_for_job(pk):
    """A configuration with what a job needs of its app, container and deployment, or NotFound."""
    from shared.models import MarathonConfig

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(f"No configuration has the id {pk!r}.") from None
    config = (
        MarathonConfig.objects.select_related("app", "deployment")
        .filter(pk=pk)
        .first()
    )
    if config is None:
        raise NotFound(f"No configuration has the id {pk}.")
    return config
