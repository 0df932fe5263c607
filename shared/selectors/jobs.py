"""Reads of jobs, their timelines and deployments."""
import time
import uuid


from shared.errors import NotFound, ValidationFailed
from shared.models import Deployment, DeploymentStatus, Job, JobEvent, JobKind, JobStatus


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
        queryset = _filter_by_choices(queryset, "status", status, JobStatus.values, errors)
    if kind:
        queryset = _filter_by_choices(queryset, "kind", kind, JobKind.values, errors)
    if app:
        queryset = _filter_by_app(queryset, app, errors, id_field="app_id", name_field="app_name")
    if config:
        if not (str(config).isascii() and str(config).isdigit()) or int(config) >= 2**63:
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
    errors = {}
    if status:
        queryset = _filter_by_choices(queryset, "status", status, DeploymentStatus.values, errors)
    if app:
        queryset = _filter_by_app(queryset, app, errors, id_field="app_id", name_field="app__name")
    if errors:
        raise ValidationFailed("Invalid filters.", errors=errors)
    return queryset


def _filter_by_choices(queryset, field, value, choices, errors):
    """A comma-separated filter over a field with fixed choices; an unknown choice is an error on `field`."""
    values = value.split(",")
    bad = [item for item in values if item not in choices]
    if bad:
        errors[field] = [f"Unknown {field} {', '.join(map(repr, bad))}; one of {', '.join(choices)}."]
    return queryset.filter(**{f"{field}__in": values})


def _filter_by_app(queryset, app, errors, *, id_field, name_field):
    """An app filter: its id (digits) or its name; anything else cannot name an app."""
    text = str(app)
    if text.isascii() and text.isdigit():
        if int(text) >= 2**63:
            errors["app"] = ["Not an app id."]
            return queryset
        return queryset.filter(**{id_field: int(text)})
    if len(text) > 50 or "\x00" in text:
        errors["app"] = ["Not an app id or name."]
        return queryset
    return queryset.filter(**{name_field: text})


def deployment_get(pk):
    deployment = Deployment.objects.select_related("config", "app").filter(pk=pk).first()
    if deployment is None:
        raise NotFound(f"No deployment has the id {pk}.")
    return deployment




def config_for_job(pk):
    """A configuration with its app and deployment (one statement: this is on every job request), or NotFound."""
    from shared.models import App, Deployment, MarathonConfig
    from shared.statements import select_joined

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(f"No configuration has the id {pk!r}.") from None
    if not 0 < pk < 2**63:
        raise NotFound(f"No configuration has the id {pk}.")
    row = select_joined(
        (("c", MarathonConfig), ("a", App), ("d", Deployment)),
        "FROM shared_marathonconfig c JOIN shared_app a ON a.id = c.app_id "
        "LEFT JOIN shared_deployment d ON d.config_id = c.id",
        "c.id = %s", [pk],
    )
    if row is None:
        raise NotFound(f"No configuration has the id {pk}.")
    config, app, deployment = row
    config.app = app
    config._state.fields_cache["deployment"] = deployment
    return config
