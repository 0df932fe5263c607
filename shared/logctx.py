"""Log context: binds the request, job and Marathon app ids to every log line of the current task or request."""
import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, unbind_contextvars


def bind_request(request_id):
    """Start a fresh context for one HTTP request (called by the request id middleware)."""
    clear_contextvars()
    bind_contextvars(request_id=request_id)


def bind_job(job):
    """Every following line of this task (or watcher event) names the job, its kind and its Marathon app."""
    context = {"job_id": str(job.pk), "job_kind": getattr(job, "kind", "") or None}
    marathon_app_id = getattr(job, "marathon_app_id", "")
    if marathon_app_id:
        context["marathon_app_id"] = marathon_app_id
    bind_contextvars(**{key: value for key, value in context.items() if value})


def bind_marathon_app(marathon_app_id, **extra):
    """For lines about a Marathon app without a job (watcher events, deployments)."""
    bind_contextvars(marathon_app_id=marathon_app_id, **extra)


def unbind_job():
    unbind_contextvars("job_id", "job_kind", "marathon_app_id")


def bind_task(task_id, task_name, job_id=None):
    """A fresh context for one Celery task (called from the worker's task_prerun signal)."""
    clear_contextvars()
    bind_contextvars(task_id=task_id, task=task_name)
    if job_id:
        bind_contextvars(job_id=str(job_id))


def clear():
    clear_contextvars()


def get_logger(name=None):
    """A structlog logger writing through the standard logging configuration (JSON lines)."""
    return structlog.stdlib.get_logger(name)
