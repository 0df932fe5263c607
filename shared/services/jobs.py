"""Job life cycle: creation with idempotency keys, the one transition function, retries and cancellation."""
import hashlib
import json
import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from shared.app_definition import DefinitionSettings, marathon_app_id, public_url
from shared.errors import Conflict, IllegalTransition, Unprocessable, ValidationFailed
from shared.metrics import observe_job_retry
from shared.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    IdempotencyKey,
    Job,
    JobEvent,
    JobKind,
    JobStatus,
)
from shared.presenters import config_deployment
from shared.services import job_hooks
from shared.services.audit import audit_entry, audit_record
from shared.services.queue import enqueue_task
from shared.statements import (
    execute,
    insert_together,
    insert_together_after,
    select_by_pk,
    select_where,
    update_if_status_then_insert,
)

logger = logging.getLogger(__name__)

# Job parameters named in the audit log (others, such as a command's inputs, may be long or sensitive).
_AUDITED_PARAMS = ("instances", "force", "image", "name", "then_delete")

TASK_EXECUTE = "maracker.jobs.execute"
TASK_SETTLE = "maracker.jobs.settle"
TASK_CANCEL = "maracker.jobs.cancel"
TASK_METADATA_EXECUTE = "maracker.metadata.execute"

# The task that executes each kind of job; its name routes it to its queue (worker/celery.py), so a slow
# registry never delays a deploy. Kinds not listed run on the deploy queue.
KIND_TASKS = {
    JobKind.IMAGE_LOOKUP: TASK_METADATA_EXECUTE,
    JobKind.APP_IMPORT: TASK_METADATA_EXECUTE,
    JobKind.METADATA_REFRESH: TASK_METADATA_EXECUTE,
    # One-off runs on the scheduler (shared/services/run_jobs.py); on the deploy queue by their name.
    JobKind.RUN: "maracker.jobs.run_execute",
}


def task_for_kind(kind):
    """The name of the task that executes jobs of this kind."""
    return KIND_TASKS.get(kind, TASK_EXECUTE)


def request_fingerprint(kind, target, params):
    """A stable hash of what a request asks for, to tell a replay from a different request under one key."""
    payload = json.dumps({"kind": kind, "target": target, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def config_marathon_app_id(config):
    """The Marathon id a configuration runs under: the one already deployed, or a new stable one."""
    deployment = config_deployment(config) if config.pk else None
    if deployment is not None and deployment.marathon_app_id:
        return deployment.marathon_app_id
    return marathon_app_id(config.app.name, config.pk, settings.MARATHON_GROUP)


def job_create(
    *,
    kind,
    config=None,
    app=None,
    params=None,
    idempotency_key=None,
    callback_url="",
    requested_by=None,
    scope="",
):
    """Record a job and enqueue it once the transaction commits. Returns (job, created).

    The same idempotency key with the same request returns the first job for 24 h; with a different
    request it is refused with 422.
    """
    params = params or {}
    if app is None and config is not None:
        app = config.app
    if idempotency_key is None:
        # One statement: outside a transaction it commits on its own, with no BEGIN or COMMIT round trip.
        return _job_insert(kind, config, app, params, callback_url, requested_by), True
    target = {"config": config.pk if config else None, "app": app.pk if app else None}
    fingerprint = request_fingerprint(kind, target, params)
    if not idempotency_key or len(idempotency_key) > 255:
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 characters.",
            errors={"Idempotency-Key": ["Must be 1 to 255 characters."]},
        )
    existing = _replay(idempotency_key, scope, fingerprint)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            job = _job_insert(kind, config, app, params, callback_url, requested_by)
            IdempotencyKey.objects.create(key=idempotency_key, scope=scope, fingerprint=fingerprint, job=job)
    except IntegrityError:
        # Another request with the same key won the race: answer with its job.
        existing = _replay(idempotency_key, scope, fingerprint)
        if existing is None:
            raise Conflict("A request with this Idempotency-Key is being processed; retry.",
                           code="idempotency_conflict")
        return existing, False
    return job, True


def _replay(key, scope, fingerprint):
    """The job an earlier request with this key created, or None if the key is new or expired."""
    record = IdempotencyKey.objects.select_related("job").filter(key=key, scope=scope).first()
    if record is None:
        return None
    if record.created_at < timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS):
        IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at).delete()
        return None
    if record.fingerprint != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_reused",
            errors={"Idempotency-Key": ["Already used with a different request body or target."]},
        )
    return record.job


def _job_insert(kind, config, app, params, callback_url, requested_by):
    """The job, its first timeline entry and its audit entry, written with the read of what the job must wait
    for in one statement, since this runs on every job request."""
    now = timezone.now()
    marathon_id = ""
    url = ""
    if config is not None and kind in (JobKind.DEPLOY, JobKind.STOP, JobKind.RESTART, JobKind.SCALE):
        marathon_id = config_marathon_app_id(config)
        from shared.app_definition import AppSpec

        url = public_url(AppSpec(app_name=app.name, config_id=config.pk, cpu=config.cpu, memory=config.memory),
                         DefinitionSettings.from_settings())
    job = Job(
        kind=kind,
        status=JobStatus.QUEUED,
        app=app,
        config=config,
        app_name=app.name if app else "",
        config_ref=config.pk if config else None,
        params=params,
        marathon_app_id=marathon_id,
        public_url=url,
        callback_url=callback_url or "",
        requested_by=requested_by,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
        deadline=now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS),
    )
    event = JobEvent(job=job, type="created", to_status=JobStatus.QUEUED, message="queued", at=now,
                     data={"params": params, "blocked_by": None})
    audit = audit_entry(requested_by, f"job.{kind}", "job", job.pk,
                        f"{kind} job for {app.name if app else '-'}"
                        + (f" configuration {config.pk}" if config is not None else "")
                        + (f" ({', '.join(f'{k}={v}' for k, v in sorted(params.items()) if k in _AUDITED_PARAMS)})"
                           if any(k in _AUDITED_PARAMS for k in params) else ""))
    blocker = None
    if marathon_id:
        # The latest job still active on the same Marathon app, if any, is what this one waits for.
        blocker = insert_together_after(_ACTIVE_JOB_ON, [marathon_id], (job, event, audit), _BEHIND_BLOCKER)
    else:
        insert_together(job, event, audit)
    if blocker is None:
        job_enqueue(job.pk, task=task_for_kind(kind))
    else:
        blocker_id, blocker_kind, blocker_status, _ = blocker
        job.blocked_by_id = blocker_id
        event.message = f"queued behind job {blocker_id} ({blocker_kind}, {blocker_status}) on {marathon_id}"
        event.data["blocked_by"] = str(blocker_id)
    return job


# (id, kind, status, Marathon id) of the latest job still active on a Marathon app.
_ACTIVE_JOB_ON = (
    "SELECT id, kind, status, marathon_app_id FROM shared_job WHERE marathon_app_id = %s AND status IN ("
    + ", ".join(f"'{status}'" for status in sorted(ACTIVE_STATUSES)) + ") ORDER BY created_at DESC LIMIT 1"
)
# What a new job's rows say when it waits behind that job (the same words as the Python above).
_BEHIND_BLOCKER = {
    (0, "blocked_by_id"): "(SELECT id FROM found)",
    (1, "message"): "COALESCE((SELECT 'queued behind job ' || id || ' (' || kind || ', ' || status || ') on ' "
                    "|| marathon_app_id FROM found), 'queued')",
    (1, "data"): "jsonb_set(CAST(%s AS jsonb), '{blocked_by}', COALESCE((SELECT to_jsonb(id::text) FROM found), "
                 "'null'::jsonb))",
}


def job_enqueue(job_id, *, countdown=None, task=TASK_EXECUTE):
    """Send the job's task once the current transaction commits (the row is then visible to workers)."""
    enqueue_task(task, str(job_id), countdown=countdown)


def job_event(job, type, message="", data=None, *, dedupe_key=None, at=None):
    """Add an entry to the job's timeline; with a dedupe key, the same entry is written once only.

    `at` backdates an entry recorded after the fact (a request is written with Marathon's answer).
    """
    if dedupe_key is not None:
        _, created = JobEvent.objects.get_or_create(
            job_id=job.pk, dedupe_key=dedupe_key,
            defaults={"type": type, "message": message[:10000], "data": data or {}},
        )
        return created
    JobEvent.objects.create(job_id=job.pk, type=type, message=message[:10000], data=data or {},
                            at=at or timezone.now())
    return True


def job_transition(job, source, target, *, message="", data=None, **fields):
    """Move a job from `source` to `target`, or refuse: illegal moves and lost races raise IllegalTransition.

    The conditional UPDATE ... WHERE status = source means two workers can never both move one job.
    Fields are plain values (no F expressions), applied to the object in memory once the UPDATE matched.
    """
    if not Job.can_transition(source, target):
        raise IllegalTransition(f"A job cannot go from {source} to {target}.",
                                errors={"status": [f"{source} -> {target} is not allowed"]})
    now = timezone.now()
    updates = {"status": target, "updated_at": now, **fields}
    if target in TERMINAL_STATUSES:
        updates["finished_at"] = now
        updates["next_attempt_at"] = None
    event = JobEvent(type="transition", from_status=source, to_status=target, message=message[:10000],
                     data=data or {}, at=now)
    with transaction.atomic():
        # The conditional UPDATE and the timeline entry in one statement: every job move runs through here.
        if not update_if_status_then_insert(job, source, updates, event, "job_id"):
            raise IllegalTransition(f"The job is no longer {source}.", code="job_moved")
        for name, value in updates.items():
            setattr(job, name, value)
        if target in TERMINAL_STATUSES:
            _release_next(job)
        job_hooks.job_transitioned(job, source, target)
    return job


def _release_next(job):
    """When a job ends, the next job queued behind it on the same Marathon app may start."""
    if not job.marathon_app_id:
        return
    # Prepared statements: this runs each time a job ends.
    found = select_where(Job, "marathon_app_id = %s AND status = 'queued' AND id <> %s ORDER BY created_at LIMIT 1",
                         [job.marathon_app_id, job.pk])
    if found:
        follower = found[0]
        with connection.cursor() as cursor:
            execute(cursor, "UPDATE shared_job SET blocked_by_id = NULL WHERE id = %s AND status = 'queued'",
                    [follower.pk])
        insert_together(JobEvent(job_id=follower.pk, type="unblocked",
                                 message=f"job {job.pk} ended ({job.status}); starting"))
        job_enqueue(follower.pk, task=task_for_kind(follower.kind))


def job_claim(job_id):
    """Take a queued job for execution: queued -> running, or None if someone else has it or it must wait."""
    job = select_by_pk(Job, job_id)
    if job is None or job.status != JobStatus.QUEUED:
        return None
    now = timezone.now()
    if job.next_attempt_at and job.next_attempt_at > now + timedelta(seconds=1):
        return None  # an early duplicate message; the scheduled one will come
    if job.marathon_app_id:
        # Jobs on one Marathon app run in order: wait for any earlier one, and for any already under way.
        with connection.cursor() as cursor:
            blocker = execute(
                cursor,
                "SELECT id, kind, status FROM shared_job WHERE marathon_app_id = %s AND id <> %s "
                "AND status IN ('queued', 'running', 'waiting') "
                "AND (created_at < %s OR status IN ('running', 'waiting')) ORDER BY created_at LIMIT 1",
                [job.marathon_app_id, job.pk, job.created_at],
            ).fetchone()
        if blocker is not None:
            blocker_id, kind, status = blocker
            if job.blocked_by_id != blocker_id:
                Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(blocked_by_id=blocker_id)
                job_event(job, "blocked", f"waiting for job {blocker_id} ({kind}, {status})",
                          {"blocked_by": str(blocker_id)})
            return None
    try:
        return job_transition(
            job, JobStatus.QUEUED, JobStatus.RUNNING,
            message=f"attempt {job.attempts + 1} of {job.max_attempts}",
            # Safe without F(): attempts only change on this queued -> running move, which the
            # conditional UPDATE lets one caller make.
            attempts=job.attempts + 1, started_at=job.started_at or now, blocked_by_id=None,
            next_attempt_at=None,
        )
    except IllegalTransition:
        return None
    except IntegrityError:
        # The database's one-active-job-per-app constraint caught a race with another job: wait.
        return None


def retry_delay(attempt):
    """Exponential back-off with jitter: uniform in [step / 2, step], step = min(cap, base * 2**(attempt-1)).

    Half the step is fixed and half is random ("equal jitter") rather than all of it random ("full jitter"):
    clients still spread out, and the default 8 attempts are guaranteed to span at least 127 s (base 2 s),
    so a two-minute Marathon outage is always ridden out; with full jitter about half the jobs gave up.
    """
    step = min(settings.JOB_RETRY_CAP_SECONDS, settings.JOB_RETRY_BASE_SECONDS * (2 ** max(attempt - 1, 0)))
    return random.uniform(step / 2, step)


def job_retry_or_fail(job, error, *, min_delay=None):
    """After a failed attempt: back to queued with a delay when the error is retryable and time allows.

    `min_delay` (seconds, e.g. a registry's Retry-After) is the least the back-off waits.
    """
    now = timezone.now()
    error_dict = error_as_dict(error)
    if error_dict["retryable"] and job.attempts < job.max_attempts:
        delay = max(retry_delay(job.attempts), min_delay or 0)
        reserve = timedelta(seconds=settings.JOB_DEADLINE_RESERVE_SECONDS)
        if now + timedelta(seconds=delay) + reserve < job.deadline:
            job = job_transition(
                job, job.status, JobStatus.QUEUED,
                message=f"attempt {job.attempts} failed ({error_dict['code']}); retrying in {delay:.1f}s",
                data={"error": error_dict, "delay": delay},
                last_error=error_dict, next_attempt_at=now + timedelta(seconds=delay),
            )
            transaction.on_commit(lambda: observe_job_retry(job.kind, error_dict["code"]))
            job_enqueue(job.pk, countdown=delay, task=task_for_kind(job.kind))
            return job
    if error_dict["retryable"]:
        error_dict = dict(error_dict, message=f"{error_dict['message']} (gave up after {job.attempts} attempts)")
    return job_fail(job, error_dict)


def job_fail_past_deadline(job, message, *, claimed):
    """Fail a job whose deadline passed before its next attempt.

    A job that was waiting to retry a retryable error (Marathon or a registry unavailable) keeps that error's
    code: that is why it did not finish, and what a client checks for. Otherwise the code is deadline_exceeded.
    `claimed`: the caller claimed the job for an attempt it will not make (the claim counted it).
    """
    made = job.attempts - 1 if claimed else job.attempts
    last = job.last_error or {}
    if last.get("retryable") and last.get("code"):
        error = {"code": last["code"], "retryable": False, "details": last.get("details"),
                 "message": f"{message} It was retrying after: {last.get('message', '')} "
                            f"(gave up after {made} attempts)"}
    else:
        error = {"code": "deadline_exceeded", "retryable": False, "details": None, "message": message}
    return job_fail(job, error)


def job_fail(job, error_dict):
    return job_transition(job, job.status, JobStatus.FAILED,
                          message=f"{error_dict['code']}: {error_dict['message']}",
                          data={"error": error_dict}, last_error=error_dict)


def job_mark_waiting(job, *, deployment_id, version, message=""):
    return job_transition(job, JobStatus.RUNNING, JobStatus.WAITING,
                          message=message or f"Marathon accepted; deployment {deployment_id}",
                          data={"deployment_id": deployment_id, "version": version},
                          deployment_id=deployment_id or "", marathon_version=version or "")


def job_mark_succeeded(job, *, message="", result=None):
    fields = {"result": result} if result is not None else {}
    return job_transition(job, job.status, JobStatus.SUCCEEDED, message=message or "done", **fields)


def job_mark_cancelled(job, *, message=""):
    return job_transition(job, job.status, JobStatus.CANCELLED, message=message or "cancelled")


def job_request_cancel(job, *, actor=None):
    """Cancel now when queued; otherwise flag it and let a worker roll back Marathon's deployment."""
    if job.status in TERMINAL_STATUSES:
        raise Conflict(f"The job has already {job.status}.", code="job_finished")
    if job.status == JobStatus.QUEUED:
        try:
            with transaction.atomic():
                cancelled = job_mark_cancelled(job, message="cancelled before it started")
                audit_record(actor, "job.cancel", "job", job.pk, f"cancelled queued {job.kind} job")
            return cancelled
        except IllegalTransition:
            job.refresh_from_db()
    with transaction.atomic():
        audit_record(actor, "job.cancel", "job", job.pk, f"asked to cancel {job.status} {job.kind} job")
        Job.objects.filter(pk=job.pk).update(cancel_requested=True, updated_at=timezone.now())
        job_event(job, "cancel_requested", "cancellation requested; rolling back on Marathon")
        job_enqueue(job.pk, task=TASK_CANCEL)
    job.refresh_from_db()
    return job


def error_as_dict(error):
    """{code, message, retryable, details} from a typed error, or from a dict already in that shape."""
    if isinstance(error, dict):
        return {
            "code": error.get("code", "error"),
            "message": error.get("message", ""),
            "retryable": bool(error.get("retryable", False)),
            "details": error.get("details"),
        }
    return {
        "code": getattr(error, "code", error.__class__.__name__),
        "message": getattr(error, "message", None) or str(error),
        "retryable": bool(getattr(error, "retryable", False)),
        "details": getattr(error, "details", None),
    }
