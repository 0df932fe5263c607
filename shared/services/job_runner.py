"""Carry out Marathon jobs: one attempt per call, idempotent, settling what Marathon reports."""
import logging
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.app_definition import AppSpec, DefinitionSettings, NotDeployable, build_app_definition
from shared.errors import IllegalTransition
from shared.logctx import bind_job
from shared.marathon.client import MarathonClient
from shared.marathon.errors import MarathonConflict, MarathonError, MarathonNotFound
from shared.models import App, DeploymentStatus, DockerContainer, Job, JobEvent, JobKind, JobStatus, MarathonConfig
from shared.services import jobs as job_services
from shared.services.deployments import deployment_mark, deployment_mark_deploying, deployment_sync_from_app
from shared.statements import insert_together, select_by_pk, select_joined

logger = logging.getLogger(__name__)


_client = None


def marathon_client():
    """One client per process (its HTTP session keeps connections alive); created after a worker forks."""
    global _client
    if _client is None:
        _client = MarathonClient.from_settings()
    return _client


def load_config(config_id):
    """A configuration with its app and container, in one statement (None if it was deleted)."""
    if not config_id:
        return None
    row = select_joined(
        (("c", MarathonConfig), ("a", App), ("k", DockerContainer)),
        "FROM shared_marathonconfig c JOIN shared_app a ON a.id = c.app_id "
        "LEFT JOIN shared_dockercontainer k ON k.app_id = a.id",
        "c.id = %s", [config_id],
    )
    if row is None:
        return None
    config, app, container = row
    app._state.fields_cache["docker_container"] = container
    config.app = app
    return config


def app_spec(config):
    """The plain values of a configuration that the definition builder needs."""
    app = config.app
    container = getattr(app, "docker_container", None) if hasattr(app, "docker_container") else None
    return AppSpec(
        app_name=app.name,
        config_id=config.pk,
        cpu=config.cpu,
        memory=config.memory,
        instances=config.instances,
        image=container.image if container else "",
        ports=tuple(container.ports) if container else (),
        command=app.command or "",
        args=tuple(config.args or ()),
        env_vars=dict(config.env_vars or {}),
        labels=dict(app.labels or {}),
        health_check_path=config.health_check_path,
    )


@contextmanager
def _attempt(job):
    """Turn what goes wrong during an attempt into a retry or a failure, with the error on the job."""
    try:
        yield
    except MarathonError as error:
        job_services.job_event(job, "marathon_error", f"{error.code}: {error.message}",
                               {"status": error.status, "details": error.details, "retryable": error.retryable})
        job.refresh_from_db()
        if job.status == JobStatus.RUNNING:
            job_services.job_retry_or_fail(job, error)


def job_execute(job_id):
    """One attempt at a queued job. Safe to call twice: only the caller that claims the job runs it."""
    job = job_services.job_claim(job_id)
    if job is None:
        return None
    bind_job(job)
    if job.cancel_requested:
        return job_services.job_mark_cancelled(job, message="cancelled before it reached Marathon")
    if timezone.now() > job.deadline:
        return job_services.job_fail_past_deadline(job, "The job's deadline passed before it could run.",
                                                   claimed=True)
    if job.kind not in HANDLERS:
        return job_services.job_fail(job, {"code": "unsupported_kind", "retryable": False,
                                           "message": f"No handler for {job.kind} jobs."})
    client = marathon_client()
    with _attempt(job):
        HANDLERS[job.kind](job, client)
    job = select_by_pk(Job, job.pk)  # as the attempt left it (a prepared read)
    if job.status == JobStatus.WAITING and settings.JOB_WORKER_POLLING:
        job_services.job_enqueue(job.pk, countdown=settings.JOB_POLL_INTERVAL_SECONDS,
                                 task=job_services.TASK_SETTLE)
    return job


def _adopt_inflight(job, client):
    """After a crash between Marathon's answer and our commit, take over the deployment it started.

    Only a job's own earlier attempt can have started a deployment on its app: one job at a time acts on a
    Marathon app, so an in-flight deployment there on a later attempt is ours.
    """
    if job.attempts <= 1:
        return False
    try:
        app = client.get_app(job.marathon_app_id)
    except MarathonNotFound:
        return False
    if not app.deployment_ids:
        return False
    deployment_id = app.deployment_ids[0]
    with transaction.atomic():
        job_services.job_event(job, "adopted",
                               f"adopting deployment {deployment_id} started by an earlier attempt",
                               {"deployment_id": deployment_id})
        deployment_mark_deploying(job, deployment_id=deployment_id, version=app.version or "")
        job_services.job_mark_waiting(job, deployment_id=deployment_id, version=app.version or "")
    return True


@transaction.atomic
def _accepted(job, request, result, *, instances=None, what):
    """Record the request sent and Marathon's answer, and move the job on, in one transaction."""
    insert_together(
        JobEvent(job_id=job.pk, type="marathon_request", message=request["summary"], data=request.get("data") or {},
                 at=request["at"]),
        JobEvent(job_id=job.pk, type="marathon_accepted", message=f"{what}: deployment {result.deployment_id}",
                 data={"deployment_id": result.deployment_id, "version": result.version}),
    )
    deployment_mark_deploying(job, deployment_id=result.deployment_id, version=result.version or "",
                              instances=instances)
    if not result.deployment_id:
        return job_services.job_mark_succeeded(job, message=f"{what}: nothing to deploy")
    return job_services.job_mark_waiting(job, deployment_id=result.deployment_id, version=result.version or "")


def _request(summary, data=None):
    """What is about to be sent, and when: it is written to the timeline with Marathon's answer."""
    return {"summary": summary, "data": data or {}, "at": timezone.now()}


def _deploy(job, client):
    config = load_config(job.config_id)
    if config is None:
        return job_services.job_fail(job, {"code": "config_deleted", "retryable": False,
                                           "message": "The configuration was deleted before the job ran."})
    if _adopt_inflight(job, client):
        return None
    spec = app_spec(config)
    if "instances" in job.params and job.params["instances"] is not None:
        spec = AppSpec(**{**spec.__dict__, "instances": int(job.params["instances"])})
    try:
        definition = build_app_definition(spec, DefinitionSettings.from_settings())
    except NotDeployable as exc:
        return job_services.job_fail(job, {"code": "not_deployable", "retryable": False, "message": str(exc)})
    definition["id"] = job.marathon_app_id
    force = bool(job.params.get("force")) or settings.MARATHON_FORCE
    request = _request(f"PUT /v2/apps{job.marathon_app_id}", {"force": force, "instances": definition["instances"]})
    result = client.create_or_replace_app(definition, force=force)
    return _accepted(job, request, result, instances=definition["instances"], what="deploy")


def _stop(job, client):
    request = _request(f"DELETE /v2/apps{job.marathon_app_id}")
    try:
        result = client.delete_app(job.marathon_app_id, force=bool(job.params.get("force")))
    except MarathonNotFound:
        with transaction.atomic():
            deployment_mark(job.marathon_app_id, DeploymentStatus.STOPPED)
            return job_services.job_mark_succeeded(job, message="the app was not running on Marathon")
    return _accepted(job, request, result, instances=0, what="stop")


def _restart(job, client):
    request = _request(f"POST /v2/apps{job.marathon_app_id}/restart")
    result = client.restart_app(job.marathon_app_id, force=bool(job.params.get("force")))
    return _accepted(job, request, result, what="restart")


def _scale(job, client):
    instances = int(job.params["instances"])
    request = _request(f"PUT /v2/apps{job.marathon_app_id} instances={instances}", {"instances": instances})
    result = client.scale_app(job.marathon_app_id, instances, force=bool(job.params.get("force")))
    return _accepted(job, request, result, instances=instances, what=f"scale to {instances}")


HANDLERS = {JobKind.DEPLOY: _deploy, JobKind.STOP: _stop, JobKind.RESTART: _restart, JobKind.SCALE: _scale}


def job_settle(job_id, client=None):
    """Ask Marathon whether a waiting job's deployment finished; settle it, or check again later."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != JobStatus.WAITING:
        return job
    bind_job(job)
    if job.kind == JobKind.RUN:  # a one-off run: the scheduler, not Marathon, says how it ended
        from shared.services.run_jobs import run_settle

        return run_settle(job.pk)
    client = client or marathon_client()
    try:
        outcome = settle_from_marathon(job, client)
    except MarathonError as error:
        if timezone.now() > job.deadline:
            return _fail_settled(job, job_services.error_as_dict(error) | {
                "code": "marathon_unavailable" if error.retryable else error.code})
        outcome = None
    if outcome is None and settings.JOB_WORKER_POLLING:
        job_services.job_enqueue(job.pk, countdown=settings.JOB_POLL_INTERVAL_SECONDS, task=job_services.TASK_SETTLE)
    return job


def _fail_settled(job, error):
    try:
        return job_services.job_fail(job, error)
    except IllegalTransition:
        return None


def settle_from_marathon(job, client):
    """Compare the job with Marathon's deployments and app; returns the settled job or None if still going."""
    # The app's own deployments say whether ours is still in flight: one small request, whatever the
    # number of deployments on the cluster.
    try:
        app = client.get_app(job.marathon_app_id)
    except MarathonNotFound:
        app = None
    return settle_with_app(job, app)


@transaction.atomic
def settle_with_app(job, app):
    """Settle a waiting job from what Marathon says of its app (None: the app does not exist)."""
    in_flight = set(app.deployment_ids) if app is not None else set()
    if job.deployment_id and job.deployment_id in in_flight:
        if app is not None:
            deployment_sync_from_app(job.marathon_app_id, app)
        if timezone.now() > job.deadline:
            reason = (app.last_task_failure if app else None) or "the deployment did not finish in time"
            deployment_mark(job.marathon_app_id, DeploymentStatus.FAILED, last_failure=reason)
            return _fail_settled(job, {"code": "deadline_exceeded", "retryable": False,
                                       "message": f"Marathon did not finish the deployment before the deadline: "
                                                  f"{reason}",
                                       "details": {"deployment_id": job.deployment_id,
                                                   "last_task_failure": reason}})
        return None
    try:
        if job.kind == JobKind.STOP:
            if app is not None and not app.deployment_ids and app.instances > 0:
                return _fail_settled(job, {"code": "deployment_cancelled", "retryable": False,
                                           "message": "Marathon's deletion was rolled back."})
            deployment_mark(job.marathon_app_id, DeploymentStatus.STOPPED)
            return job_services.job_mark_succeeded(job, message="stopped")
        if app is None:
            deployment_mark(job.marathon_app_id, DeploymentStatus.STOPPED)
            return _fail_settled(job, {"code": "app_gone", "retryable": False,
                                       "message": "The app disappeared from Marathon before it was up."})
        deployment_sync_from_app(job.marathon_app_id, app)
        # Versions cannot tell a rollback apart (an unchanged app keeps its older version), so compare the
        # outcome with what the job asked for.
        wanted = job.params.get("instances")
        if wanted is not None and app.instances != int(wanted):
            return _fail_settled(job, {"code": "deployment_cancelled", "retryable": False,
                                       "message": f"Marathon runs {app.instances} instances, not {wanted}: the "
                                                  f"deployment was rolled back or replaced."})
        return job_services.job_mark_succeeded(
            job, message=f"deployment {job.deployment_id} finished; {app.tasks_running}/{app.instances} running",
            result={"tasks_running": app.tasks_running, "instances": app.instances},
        )
    except IllegalTransition:
        return None


def job_cancel_execute(job_id):
    """Roll back a cancelled job's Marathon deployment, then mark it cancelled."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status not in (JobStatus.RUNNING, JobStatus.WAITING, JobStatus.QUEUED):
        return job
    bind_job(job)
    if job.status == JobStatus.QUEUED:
        try:
            return job_services.job_mark_cancelled(job, message="cancelled before it started")
        except IllegalTransition:
            return job
    if job.status == JobStatus.RUNNING:
        # The attempt under way decides; look again shortly.
        job_services.job_enqueue(job.pk, countdown=1, task=job_services.TASK_CANCEL)
        return job
    if job.kind == JobKind.RUN:  # a one-off run is stopped on the scheduler
        from shared.services.run_jobs import run_cancel

        return run_cancel(job)
    client = marathon_client()
    try:
        client.cancel_deployment(job.deployment_id, force=False)
        job_services.job_event(job, "marathon_rollback", f"rolled back deployment {job.deployment_id}")
    except MarathonNotFound:
        # The deployment already finished: too late to cancel; settle it as it is.
        job_services.job_event(job, "cancel_too_late", "the deployment had already finished")
        return settle_from_marathon(job, client)
    except MarathonConflict as error:
        job_services.job_event(job, "marathon_error", error.message, {"status": error.status})
        job_services.job_enqueue(job.pk, countdown=2, task=job_services.TASK_CANCEL)
        return job
    except MarathonError as error:
        job_services.job_event(job, "marathon_error", error.message, {"status": error.status})
        if timezone.now() < job.deadline:
            job_services.job_enqueue(job.pk, countdown=job_services.retry_delay(2), task=job_services.TASK_CANCEL)
        return job
    try:
        return job_services.job_mark_cancelled(job, message=f"deployment {job.deployment_id} rolled back")
    except IllegalTransition:
        return job
