"""Deleting what may still run: refuse while deployed, or stop it through jobs and delete when they succeed."""
from django.db import transaction

from shared.errors import Conflict
from shared.models import ACTIVE_STATUSES, App, DeploymentStatus, Job, JobKind, MarathonConfig


def _running_configs(configs, *, ignore_job=None):
    """The configurations that have something on Marathon, or a job under way."""
    running = []
    for config in configs:
        deployment = getattr(config, "deployment", None) if _has_deployment(config) else None
        active = Job.objects.filter(config_ref=config.pk, status__in=list(ACTIVE_STATUSES))
        if ignore_job is not None:
            active = active.exclude(pk=ignore_job.pk)
        if (deployment is not None and deployment.status != DeploymentStatus.STOPPED) or active.exists():
            running.append((config, deployment))
    return running


def _has_deployment(config):
    try:
        return config.deployment is not None
    except MarathonConfig.deployment.RelatedObjectDoesNotExist:
        return False


def _conflict(what, running):
    return Conflict(
        f"{what} is deployed on Marathon; stop it first, or delete with ?force=true to stop it and then delete it.",
        code="deployed",
        errors={"force": ["Required to delete what is deployed."]},
        deployments=[
            {"config": config.pk, "marathon_app_id": deployment.marathon_app_id if deployment else None,
             "status": deployment.status if deployment else "deploying"}
            for config, deployment in running
        ],
    )


def _stop_jobs(running, then_delete, requested_by):
    from shared.services.jobs import job_create

    return [
        job_create(kind=JobKind.STOP, config=config, params={"force": False, "then_delete": then_delete},
                   requested_by=requested_by)[0]
        for config, _ in running
    ]


def app_remove(app, *, force=False, requested_by=None):
    """Delete the app now (returns []), or with force stop its deployments first (returns the stop jobs)."""
    from shared.services.catalog import app_delete

    with transaction.atomic():
        running = _running_configs(MarathonConfig.objects.select_related("deployment").filter(app=app))
        if not running:
            app_delete(app, actor=requested_by)
            return []
        if not force:
            raise _conflict(f"App {app.name!r}", running)
        return _stop_jobs(running, "app", requested_by)


def config_remove(config, *, force=False, requested_by=None):
    """Delete the configuration now (returns []), or with force stop it first (returns the stop job)."""
    from shared.services.catalog import marathon_config_delete

    with transaction.atomic():
        running = _running_configs([config])
        if not running:
            marathon_config_delete(config, actor=requested_by)
            return []
        if not force:
            raise _conflict(f"Configuration {config.pk}", running)
        return _stop_jobs(running, "config", requested_by)


def delete_after_stop(job):
    """Called when a stop job asked for by a forced delete succeeds: delete once nothing else runs."""
    from shared.services.catalog import app_delete, marathon_config_delete

    target = job.params.get("then_delete")
    if target == "config":
        config = MarathonConfig.objects.select_for_update().select_related("deployment").filter(
            pk=job.config_ref).first()
        if config is not None and not _running_configs([config], ignore_job=job):
            marathon_config_delete(config, actor=job.requested_by)
    elif target == "app" and job.app_id:
        app = App.objects.select_for_update().filter(pk=job.app_id).first()
        if app is None:
            return
        configs = MarathonConfig.objects.select_related("deployment").filter(app=app)
        if not _running_configs(configs, ignore_job=job):
            app_delete(app, actor=job.requested_by)
