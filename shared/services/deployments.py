"""Deployment rows: what runs on Marathon for each configuration, kept in step by workers and the watcher."""
from django.db import transaction
from django.utils import timezone

from shared.models import Deployment, DeploymentStatus
from shared.services.webhooks import deployment_health_changed
from shared.statements import upsert


def deployment_mark_deploying(job, *, deployment_id="", version="", instances=None):
    """Upsert the job's deployment row as deploying, in one statement (INSERT ... ON CONFLICT UPDATE)."""
    row = Deployment(
        marathon_app_id=job.marathon_app_id, config_id=job.config_id, app_id=job.app_id,
        status=DeploymentStatus.DEPLOYING, deployment_id=deployment_id or "", version=version or "",
        instances=instances or 0, public_url=job.public_url, updated_at=timezone.now(),
    )
    update = ["status", "deployment_id", "updated_at"]
    if version:
        update.append("version")
    if instances is not None:
        update.append("instances")
    if job.public_url:
        update.append("public_url")
    if job.config_id:
        update.extend(["config_id", "app_id"])
    upsert(row, "marathon_app_id", update)


def _task_state(task):
    return {
        "id": task.id,
        "state": task.state,
        "host": task.host,
        "ports": list(task.ports),
        "endpoints": list(task.endpoints),
        "healthy": task.healthy,
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "version": task.version,
    }


def status_from_app(app_info, *, has_health_checks):
    """running, unhealthy or deploying, from Marathon's counts."""
    if app_info.deployment_ids:
        return DeploymentStatus.DEPLOYING
    if app_info.instances == 0:
        return DeploymentStatus.STOPPED
    if has_health_checks and app_info.tasks_unhealthy > 0:
        return DeploymentStatus.UNHEALTHY
    if has_health_checks and app_info.tasks_healthy < app_info.instances:
        return DeploymentStatus.UNHEALTHY if app_info.tasks_running >= app_info.instances else DeploymentStatus.DEPLOYING
    return DeploymentStatus.RUNNING


@transaction.atomic
def deployment_sync_from_app(marathon_app_id, app_info, *, status=None):
    """Overwrite the runtime state of a deployment with what Marathon reports for its app."""
    deployment = Deployment.objects.select_for_update().filter(marathon_app_id=marathon_app_id).first()
    if deployment is None:
        return None
    has_checks = bool(app_info.definition.get("healthChecks"))
    old_status = deployment.status
    deployment.status = status or status_from_app(app_info, has_health_checks=has_checks)
    deployment.version = app_info.version or deployment.version
    deployment.instances = app_info.instances
    deployment.tasks_staged = app_info.tasks_staged
    deployment.tasks_running = app_info.tasks_running
    deployment.tasks_healthy = app_info.tasks_healthy
    deployment.tasks_unhealthy = app_info.tasks_unhealthy
    deployment.tasks = {task.id: _task_state(task) for task in app_info.tasks}
    if app_info.last_task_failure:
        deployment.last_failure = app_info.last_task_failure
    if not app_info.deployment_ids:
        deployment.deployment_id = ""
    deployment.save()
    deployment_health_changed(deployment, old_status, deployment.status)  # webhooks, in this transaction
    return deployment


def deployment_mark(marathon_app_id, status, *, last_failure=None):
    fields = {"status": status, "updated_at": timezone.now()}
    if status == DeploymentStatus.STOPPED:
        fields.update(instances=0, tasks_staged=0, tasks_running=0, tasks_healthy=0, tasks_unhealthy=0,
                      tasks={}, deployment_id="")
    if last_failure:
        fields["last_failure"] = last_failure
    Deployment.objects.filter(marathon_app_id=marathon_app_id).update(**fields)
