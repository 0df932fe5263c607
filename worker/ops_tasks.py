"""Operations wiring of the worker: a ping task for monitoring, JSON logging, and log context per task."""
import uuid

from celery import shared_task
from celery.signals import setup_logging, task_prerun

from shared import logctx


@setup_logging.connect
def _keep_django_logging(**kwargs):
    """Celery leaves logging alone when this signal has a receiver: Django's LOGGING (JSON lines) applies."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@task_prerun.connect
def _bind_task_context(task_id=None, task=None, args=None, **kwargs):
    """Every line a task logs names the task, and for job tasks the job and its Marathon app."""
    name = getattr(task, "name", "") or ""
    job_id = args[0] if name.startswith("maracker.jobs.") and args else None
    logctx.bind_task(task_id, name, job_id)
    if job_id:
        _bind_job_by_id(job_id)


def _bind_job_by_id(job_id):
    from shared.models import Job

    try:
        uuid.UUID(str(job_id))
        row = Job.objects.filter(pk=job_id).values_list("kind", "marathon_app_id").first()
    except Exception:  # a malformed id or a database outage: the task itself reports it
        return
    if row:
        kind, marathon_app_id = row
        logctx.bind_contextvars(job_kind=kind, **({"marathon_app_id": marathon_app_id} if marathon_app_id else {}))


@shared_task(name="maracker.maintenance.ping", ignore_result=True)
def ping(marker=""):
    """Does nothing but log: proves a worker consumes the maintenance queue (monitoring, tests)."""
    logctx.get_logger(__name__).info("pong", marker=marker)
    return "pong"
