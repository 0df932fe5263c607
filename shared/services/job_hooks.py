"""What else happens, in its transaction, when a job moves: metrics, webhooks, deletes that waited on a stop."""
import logging

from django.db import transaction

from shared.metrics import observe_job_finished
from shared.models import TERMINAL_STATUSES, JobKind, JobStatus

logger = logging.getLogger(__name__)


def job_transitioned(job, source, target):
    """Called inside the transaction of every job transition (so an outbox row commits with it)."""
    from shared.services.webhooks import job_transitioned as webhooks_job_transitioned

    webhooks_job_transitioned(job, source, target)
    if target == JobStatus.SUCCEEDED and job.kind == JobKind.STOP and job.params.get("then_delete"):
        from shared.services.removal import delete_after_stop

        delete_after_stop(job)
    if target in TERMINAL_STATUSES and job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
        # Metrics live in Redis: count the job once its transition is committed, and never hold the row.
        transaction.on_commit(lambda: observe_job_finished(job.kind, target, seconds))
