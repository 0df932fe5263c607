"""Jobs, deployments and apps as the API shows them: one shape for HTTP answers, webhooks and pages.

Written as plain functions rather than DRF serializers because they sit on the hottest path (every 202
answer) and are also needed by workers, which must not import the HTTP layer.
"""
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist


def _iso(value):
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_waiting_for(job):
    if job.status != "queued":
        return None
    if job.blocked_by_id:
        return f"job {job.blocked_by_id} on the same Marathon app"
    if job.next_attempt_at:
        return f"retry at {_iso(job.next_attempt_at)}"
    return "a worker"


def job_data(job):
    base = f"/api/v1/jobs/{job.pk}"
    error = job.last_error
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "app": job.app_id,
        "app_name": job.app_name,
        "config": job.config_ref,
        "params": job.params,
        "result": job.result,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": (
            {"code": error.get("code"), "message": error.get("message"), "retryable": bool(error.get("retryable")),
             "details": error.get("details")} if error else None
        ),
        "marathon_app_id": job.marathon_app_id,
        "deployment_id": job.deployment_id,
        "marathon_version": job.marathon_version,
        "public_url": job.public_url,
        "blocked_by": str(job.blocked_by_id) if job.blocked_by_id else None,
        "waiting_for": job_waiting_for(job),
        "cancel_requested": job.cancel_requested,
        "callback_url": job.callback_url,
        "requested_by": job.requested_by_id,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "next_attempt_at": _iso(job.next_attempt_at),
        "deadline": _iso(job.deadline),
        "links": {"self": base, "events": f"{base}/events", "cancel": f"{base}/cancel"},
    }


def deployment_data(deployment):
    tasks = deployment.tasks or {}
    return {
        "id": deployment.pk,
        "app": deployment.app_id,
        "app_name": deployment.app.name if deployment.app_id and deployment.app else None,
        "config": deployment.config_id,
        "marathon_app_id": deployment.marathon_app_id,
        "status": deployment.status,
        "version": deployment.version,
        "deployment_id": deployment.deployment_id,
        "instances": deployment.instances,
        "tasks_staged": deployment.tasks_staged,
        "tasks_running": deployment.tasks_running,
        "tasks_healthy": deployment.tasks_healthy,
        "tasks_unhealthy": deployment.tasks_unhealthy,
        "tasks": tasks,
        "endpoints": sorted(endpoint for task in tasks.values() for endpoint in task.get("endpoints", [])),
        "last_failure": deployment.last_failure,
        "url": deployment.public_url,
        "last_event_at": _iso(deployment.last_event_at),
        "updated_at": _iso(deployment.updated_at),
    }


def deployment_summary(deployment):
    """The `deployment` member of apps and configurations: what runs on Marathon for a configuration."""
    if deployment is None:
        return None
    return {
        "id": deployment.pk,
        "marathon_app_id": deployment.marathon_app_id,
        "status": deployment.status,
        "version": deployment.version,
        "instances": deployment.instances,
        "tasks_running": deployment.tasks_running,
        "tasks_healthy": deployment.tasks_healthy,
        "url": deployment.public_url,
        "last_failure": deployment.last_failure,
    }


def config_deployment(config):
    """A configuration's deployment, or None (a reverse one-to-one raises when there is none)."""
    try:
        return config.deployment
    except config.__class__.deployment.RelatedObjectDoesNotExist:
        return None


# --- The catalog ---------------------------------------------------------------------------------------


def present_container(container):
    if container is None:
        return None
    return {"id": container.pk, "type": container.type, "image": container.image, "ports": container.ports}


def present_config(config):
    cpu = Decimal(config.cpu)
    return {
        "id": config.pk,
        "app": config.app_id,
        "cpu": int(cpu) if cpu == cpu.to_integral_value() else float(cpu),
        "memory": config.memory,
        "instances": config.instances,
        "args": config.args,
        "env_vars": config.env_vars,
        "health_check_path": config.health_check_path,
        "deployment": deployment_summary(config_deployment(config)),
        "created_at": _iso(config.created_at),
        "updated_at": _iso(config.updated_at),
    }


def _container_of(app):
    try:
        return app.docker_container
    except ObjectDoesNotExist:
        return None


def present_app(app):
    return {
        "id": app.pk,
        "name": app.name,
        "description": app.description,
        "command": app.command,
        "vcs_url": app.vcs_url,
        "labels": app.labels,
        "docker_container": present_container(_container_of(app)),
        "marathon_configs": [present_config(config) for config in app.marathon_configs.all()],
        "created_at": _iso(app.created_at),
        "updated_at": _iso(app.updated_at),
    }
