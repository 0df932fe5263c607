"""The periodic sweep: the database is the source of truth, so lost messages and stuck jobs are found here."""
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from shared.errors import IllegalTransition
from shared.models import Job, JobStatus
from shared.services import jobs as job_services
from shared.services.queue import send_now

logger = logging.getLogger(__name__)

BATCH = 500


def job_sweep(now=None):
    """Re-enqueue what the broker lost, recover jobs of dead workers, and settle jobs past their deadline."""
    now = now or timezone.now()
    counts = {"requeued": 0, "recovered": 0, "expired": 0, "settle": 0}
    requeue_before = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS)

    # 1. Queued for too long (a lost message or a flushed Redis), and not waiting for another job.
    queued = (
        Job.objects.filter(status=JobStatus.QUEUED)
        .annotate(due=Coalesce("next_attempt_at", "updated_at"))
        .filter(due__lt=requeue_before)
        .order_by("created_at")
        .values_list("pk", "deadline", "marathon_app_id", "kind", "created_at")[:BATCH]
    )
    for pk, deadline, marathon_id, kind, created_at in queued:
        if deadline < now:
            job = Job.objects.get(pk=pk)
            try:
                job_services.job_fail_past_deadline(
                    job, "The job's deadline passed before a worker could run it.", claimed=False)
                counts["expired"] += 1
            except IllegalTransition:
                pass
            continue
        if marathon_id and Job.objects.filter(
            Q(status__in=[JobStatus.RUNNING, JobStatus.WAITING])
            | Q(status=JobStatus.QUEUED, created_at__lt=created_at),
            marathon_app_id=marathon_id,
        ).exclude(pk=pk).exists():
            # It is blocked: the job ahead of it releases it when it ends (and is itself re-enqueued here if
            # its message was lost). Sending it now would only add a message that cannot run yet, per sweep.
            continue
        if Job.objects.filter(pk=pk, status=JobStatus.QUEUED).update(updated_at=now):
            if send_now(job_services.task_for_kind(kind), str(pk)):
                counts["requeued"] += 1

    # 2. Running without progress: the worker died (SIGKILL, lost node). Put it back in the queue.
    stale_before = now - timedelta(seconds=settings.JOB_STALE_RUNNING_SECONDS)
    for job in Job.objects.filter(status=JobStatus.RUNNING, updated_at__lt=stale_before)[:BATCH]:
        try:
            job_services.job_transition(
                job, JobStatus.RUNNING, JobStatus.QUEUED,
                message="the worker running this job stopped answering; queued again",
                next_attempt_at=None,
            )
        except IllegalTransition:
            continue
        if send_now(job_services.task_for_kind(job.kind), str(job.pk)):
            counts["recovered"] += 1

    # 3. Waiting past the deadline, or not checked for a while: ask Marathon.
    waiting = Job.objects.filter(status=JobStatus.WAITING).filter(
        Q(deadline__lt=now) | Q(updated_at__lt=requeue_before)
    ).values_list("pk", flat=True)[:BATCH]
    for pk in waiting:
        if send_now(job_services.TASK_SETTLE, str(pk)):
            counts["settle"] += 1
    if any(counts.values()):
        logger.info("sweep: %s", counts)
    return counts
