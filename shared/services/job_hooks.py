"""What else happens when a job is created or moves: metrics and webhook deliveries, in the same transaction."""
import logging

from shared.models import TERMINAL_STATUSES

logger = logging.getLogger(__name__)


def job_created(job):
    """Called inside the transaction that records a new job."""


def job_transitioned(job, source, target):
    """Called inside the transaction of every job transition (so an outbox row commits with it)."""
    from shared.services.webhooks import job_transitioned as webhooks_job_transitioned

    webhooks_job_transitioned(job, source, target)
    if target in TERMINAL_STATUSES and job.started_at and job.finished_at:
        try:
            from shared.metrics import observe_job_finished
        except ImportError:
            return
        observe_job_finished(job.kind, target, (job.finished_at - job.started_at).total_seconds())
