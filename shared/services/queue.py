"""Enqueue Celery tasks by their stable names after the transaction commits; the database stays the truth."""
import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

# A broker outage must not hold an HTTP request: try briefly, then leave the row for the sweeper.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}


def send_now(task_name, *args, countdown=None):
    """Publish at once; False when the broker is unreachable (the sweeper re-enqueues from the database)."""
    try:
        current_app.send_task(task_name, args=list(args), countdown=countdown, retry=True, ignore_result=True,
                              retry_policy=PUBLISH_RETRY_POLICY)
        return True
    except Exception as exc:  # kombu raises several connection error types
        logger.warning("could not enqueue %s%r: %s; the sweeper will re-enqueue it", task_name, args, exc)
        return False


def enqueue_task(task_name, *args, countdown=None):
    """Publish once the surrounding transaction commits, so the worker always finds the rows it needs."""
    transaction.on_commit(lambda: send_now(task_name, *args, countdown=countdown))
