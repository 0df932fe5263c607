"""One-off runs of a configuration on the scheduler (Metronome): create the job, start a run, follow it to its end."""
import logging
import re
import shlex
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared import boutiques
from shared.errors import Conflict, IllegalTransition, ValidationFailed
from shared.models import Job, JobKind, JobStatus, MarathonConfig
from shared.scheduler.client import scheduler_client
from shared.scheduler.errors import SchedulerError, SchedulerNotFound
from shared.services import jobs as job_services

logger = logging.getLogger(__name__)

# Task names under maracker.jobs.*: they ride the deploy queue. Each task is one short exchange with the
# scheduler (define + start, or one status check); a run is followed by settle tasks re-enqueued with a countdown,
# so no worker is held for the length of a run and no new queue (nor a change to the worker's -Q) is needed.
TASK_RUN_EXECUTE = "maracker.jobs.run_execute"
TASK_RUN_SETTLE = "maracker.jobs.run_settle"

_client = None


def run_client():
    """One scheduler client per process (keeps its connections); created after a worker forks."""
    global _client
    if _client is None:
        _client = scheduler_client()
    return _client


def _load_config(config_id):
    return (MarathonConfig.objects.select_related("app", "app__docker_container").filter(pk=config_id).first()
            if config_id else None)


def _image(app):
    container = getattr(app, "docker_container", None) if hasattr(app, "docker_container") else None
    return container.image if container is not None else ""


def run_inputs(config, inputs):
    """The input values of a run: the descriptor's defaults, then the configuration's, then the request's.

    Checked against the descriptor with Boutiques' invocation schema; an app without a descriptor takes none.
    """
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise ValidationFailed("inputs must be an object.", errors={"inputs": ["Must be an object."]})
    descriptor = config.app.boutiques_descriptor
    if not descriptor:
        if inputs:
            raise ValidationFailed("This app has no Boutiques descriptor: a run takes no inputs.",
                                   errors={"inputs": ["This app takes no inputs."]})
        return {}
    merged = {**boutiques.default_inputs(descriptor), **(config.inputs or {}), **inputs}
    errors = boutiques.invocation_errors(descriptor, merged)
    if errors:
        raise ValidationFailed("The input values do not fit the tool's descriptor.", errors=errors)
    return merged


def run_create(*, config, inputs=None, idempotency_key=None, callback_url="", requested_by=None, scope=""):
    """Record a `run` job for a configuration with checked input values; returns (job, created)."""
    if not _image(config.app):
        raise Conflict("The app has no container image to run.", code="no_image",
                       errors={"docker_container.image": ["Required to run the app."]})
    params = {"inputs": run_inputs(config, inputs)}
    with transaction.atomic():
        job, created = job_services.job_create(kind=JobKind.RUN, config=config, params=params,
                                               idempotency_key=idempotency_key, callback_url=callback_url,
                                               requested_by=requested_by, scope=scope)
        if created:
            deadline = job.created_at + timedelta(seconds=settings.RUN_DEADLINE_SECONDS)
            Job.objects.filter(pk=job.pk).update(deadline=deadline)
            job.deadline = deadline
    return job, created


def scheduler_job_id(job, config):
    """A Metronome job id of its own for each run job (dotted segments of [a-z0-9-], no dash at either end), so
    concurrent runs of one configuration with different inputs never replace each other's definition."""
    app = re.sub(r"-+", "-", config.app.name).strip("-") or "app"
    return f"{settings.METRONOME_JOB_PREFIX}.{app}.c{config.pk}.r{job.pk.hex[:12]}"


def command_line(config, inputs):
    """The command a run executes: the Boutiques command line, else the app's command and arguments."""
    descriptor = config.app.boutiques_descriptor
    if descriptor:
        return boutiques.build_command_line(descriptor, inputs)
    parts = [config.app.command] if config.app.command else []
    parts += [shlex.quote(str(arg)) for arg in config.args or ()]
    return " ".join(parts)


def run_job_spec(job, config):
    """The Metronome job specification (dcos/metronome jobspec.schema.json) of a run job."""
    app = config.app
    env = {**boutiques.environment(app.boutiques_descriptor or {}), **(config.env_vars or {})}
    run = {
        "cpus": float(config.cpu),
        "mem": int(config.memory),
        "disk": settings.RUN_DISK_MB,
        "docker": {"image": _image(app)},
        "env": {key: str(value) for key, value in env.items()},
        "restart": {"policy": "NEVER"},
    }
    cmd = command_line(config, job.params.get("inputs") or {})
    if cmd:
        run["cmd"] = cmd
    return {
        "id": scheduler_job_id(job, config),
        "description": f"{app.name} (configuration {config.pk}), job {job.pk}",
        "labels": {"maracker.job": str(job.pk), "maracker.app": app.name, "maracker.config": str(config.pk)},
        "run": run,
    }


@contextmanager
def _attempt(job):
    """A scheduler error during an attempt: retried with the jobs' back-off when retryable, else the job fails."""
    try:
        yield
    except SchedulerError as error:
        job_services.job_event(job, "scheduler_error", f"{error.code}: {error.message}",
                               {"status": error.status, "details": error.details, "retryable": error.retryable})
        job.refresh_from_db()
        if job.status == JobStatus.RUNNING:
            job_services.job_retry_or_fail(job, error)


def _earlier_run(client, job_id):
    """A run an earlier attempt of this job started (the scheduler job is this job's own), or None."""
    try:
        data = client.get_job(job_id, embed=("activeRuns", "history"))
    except SchedulerNotFound:
        return None
    runs = list(data.get("activeRuns") or [])
    history = data.get("history") or {}
    runs += list(history.get("successfulFinishedRuns") or []) + list(history.get("failedFinishedRuns") or [])
    runs = [run for run in runs if isinstance(run, dict) and run.get("id")]
    if not runs:
        return None
    return max(runs, key=lambda run: run.get("createdAt") or "")["id"]


def run_execute(job_id):
    """One attempt at a queued run job: define the scheduler job, start a run, then wait for it. Idempotent."""
    job = job_services.job_claim(job_id)
    if job is None:
        return None
    if job.cancel_requested:
        return job_services.job_mark_cancelled(job, message="cancelled before it reached the scheduler")
    if timezone.now() > job.deadline:
        return job_services.job_fail_past_deadline(job, "The job's deadline passed before it could run.",
                                                   claimed=True)
    config = _load_config(job.config_id)
    if config is None:
        return job_services.job_fail(job, {"code": "config_deleted", "retryable": False,
                                           "message": "The configuration was deleted before the job ran."})
    spec = run_job_spec(job, config)
    client = run_client()
    with _attempt(job):
        run_id = _earlier_run(client, spec["id"]) if job.attempts > 1 else None
        adopted = run_id is not None
        if not adopted:
            client.put_job(spec)
            run_id = client.start_run(spec["id"]).id
        _started(job, spec, run_id, adopted=adopted)
    return job


@transaction.atomic
def _started(job, spec, run_id, *, adopted):
    result = {"scheduler": settings.ONEOFF_SCHEDULER, "job_id": spec["id"], "run_id": run_id,
              "command": spec["run"].get("cmd", ""), "image": spec["run"]["docker"]["image"],
              "inputs": job.params.get("inputs") or {}, "status": "INITIAL"}
    if adopted:
        job_services.job_event(job, "adopted", f"adopting run {run_id} started by an earlier attempt",
                               {"run_id": run_id})
    else:
        job_services.job_event(job, "scheduler_request", f"PUT /v1/jobs/{spec['id']}; POST /v1/jobs/{spec['id']}/runs",
                               {"spec": spec})
    job_services.job_transition(job, JobStatus.RUNNING, JobStatus.WAITING,
                                message=f"run {run_id} of {spec['id']} started", data={"run_id": run_id},
                                result=result)
    job_services.job_enqueue(job.pk, countdown=settings.RUN_POLL_BASE_SECONDS, task=TASK_RUN_SETTLE)


def poll_delay(job, now=None):
    """Back-off of the checks on a run: a tenth of the time it has been waiting, between the base and the max."""
    now = now or timezone.now()
    waited = (now - (job.started_at or job.created_at)).total_seconds()
    return min(settings.RUN_POLL_MAX_SECONDS, max(settings.RUN_POLL_BASE_SECONDS, waited / 10))


def run_settle(job_id, client=None):
    """Check a waiting run job's run once: record its end, or check again later."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != JobStatus.WAITING or job.kind != JobKind.RUN:
        return job
    client = client or run_client()
    info = job.result or {}
    try:
        run = client.get_run(info["job_id"], info["run_id"])
    except SchedulerNotFound as error:
        return _settle_fail(job, {"code": "run_lost", "retryable": False,
                                  "message": f"The scheduler no longer knows the run: {error.message}"})
    except SchedulerError as error:
        job_services.job_event(job, "scheduler_error", f"{error.code}: {error.message}", {"status": error.status})
        if timezone.now() > job.deadline:
            return _settle_fail(job, {"code": error.code, "retryable": False,
                                      "message": f"The scheduler could not be asked before the deadline: "
                                                 f"{error.message}"})
        job_services.job_enqueue(job.pk, countdown=poll_delay(job), task=TASK_RUN_SETTLE)
        return job
    exit_status = run.exit_status
    if run.finished and exit_status is None:
        # A finished run's history entry lists task ids only: the final state follows from the run's (Metronome
        # marks a run SUCCESS when its task finished with exit code 0, FAILED when it failed or was killed).
        exit_status = (info.get("exit_status") if info.get("exit_status") in ("TASK_FAILED", "TASK_KILLED")
                       else None) or ("TASK_FINISHED" if run.succeeded else "TASK_FAILED")
    result = {**info, "status": run.status, "run": run.as_dict(), "exit_status": exit_status,
              "exit_code": 0 if run.succeeded else None}
    if run.finished:
        try:
            if run.succeeded:
                return job_services.job_mark_succeeded(job, message=f"run {run.id} succeeded", result=result)
            reason = exit_status or run.failure_reason or "the run failed"
            error = {"code": "run_failed", "retryable": False, "message": f"Run {run.id} ended FAILED: {reason}",
                     "details": run.as_dict()}
            return job_services.job_transition(job, JobStatus.WAITING, JobStatus.FAILED, message=error["message"],
                                               data={"error": error}, last_error=error, result=result)
        except IllegalTransition:
            return None
    job_services.job_event(job, "run_status", f"run {run.id} is {run.status}", {"run": run.as_dict()},
                           dedupe_key=f"run-status:{run.id}:{run.status}:{run.exit_status or ''}")
    Job.objects.filter(pk=job.pk, status=JobStatus.WAITING).update(result=result, updated_at=timezone.now())
    if timezone.now() > job.deadline:
        try:
            client.stop_run(info["job_id"], run.id)
        except SchedulerError as error:
            job_services.job_event(job, "scheduler_error", f"stopping the run: {error.message}")
        return _settle_fail(job, {"code": "deadline_exceeded", "retryable": False,
                                  "message": f"Run {run.id} was still {run.status} at the deadline; stopped."})
    job_services.job_enqueue(job.pk, countdown=poll_delay(job), task=TASK_RUN_SETTLE)
    return job


def _settle_fail(job, error):
    try:
        return job_services.job_fail(job, error)
    except IllegalTransition:
        return None


def run_cancel(job):
    """Stop a waiting run on the scheduler, then mark the job cancelled."""
    info = job.result or {}
    try:
        run_client().stop_run(info["job_id"], info["run_id"])
        job_services.job_event(job, "run_stopped", f"stopped run {info['run_id']}")
    except SchedulerNotFound:
        job_services.job_event(job, "cancel_too_late", "the run had already finished")
        return run_settle(job.pk)
    except SchedulerError as error:
        job_services.job_event(job, "scheduler_error", error.message, {"status": error.status})
        if timezone.now() < job.deadline:
            job_services.job_enqueue(job.pk, countdown=job_services.retry_delay(2), task=job_services.TASK_CANCEL)
        return job
    try:
        return job_services.job_mark_cancelled(job, message=f"run {info['run_id']} stopped")
    except IllegalTransition:
        return job
