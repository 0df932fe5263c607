"""Operations wiring of the worker: a ping task for monitoring, JSON logging, log context per task, database
connection reuse, and the garbage collector of pool processes."""
from celery import shared_task
from celery.signals import setup_logging, task_postrun, task_prerun, worker_process_init
from django.db import close_old_connections, connections

from shared import logctx


@setup_logging.connect
def _keep_django_logging(**kwargs):
    """Celery leaves logging alone when this signal has a receiver: Django's LOGGING (JSON lines) applies."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@worker_process_init.connect
def _freeze_startup_objects(**kwargs):
    """A pool process starts with the whole application loaded: keep those long-lived objects out of every
    full garbage collection (as the web workers do, config/gunicorn.py), which otherwise walks them all."""
    import gc

    gc.collect()
    gc.freeze()


@task_prerun.connect
def _bind_task_context(task_id=None, task=None, args=None, **kwargs):
    """Every line a task logs names the task and, for job tasks, the job; the job services add its kind and
    Marathon app as soon as they have read the job (shared.logctx.bind_job), so no extra query is made here."""
    name = getattr(task, "name", "") or ""
    job_id = args[0] if name.startswith("maracker.jobs.") and args else None
    logctx.bind_task(task_id, name, job_id)


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(task=None, **kwargs):
    """Around each task, close the database connections that are broken or older than DB_CONN_MAX_AGE, as Django
    does around each request, and keep the others.

    Celery's Django fixup would otherwise close every connection before and after every task (unless told to
    reuse it a number of times, CELERY_DB_REUSE_MAX, which config/settings.py sets out of reach): a new
    PostgreSQL connection, backend process and set of prepared statements per task, which was a third of a
    worker's time per deploy job.
    """
    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    if any(connection.in_atomic_block for connection in connections.all(initialized_only=True)):
        return
    close_old_connections()


@shared_task(name="maracker.maintenance.ping", ignore_result=True)
def ping(marker=""):
    """Does nothing but log: proves a worker consumes the maintenance queue (monitoring, tests)."""
    logctx.get_logger(__name__).info("pong", marker=marker)
    return "pong"
