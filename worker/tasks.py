"""Celery tasks for jobs: thin wiring from stable task names to the services that do the work."""
from functools import partial

from celery import shared_task

from shared.services.image_metadata import metadata_job_execute
from shared.services.job_runner import job_cancel_execute, job_execute, job_settle
from shared.services.run_jobs import run_execute, run_settle
from shared.services.sweeper import job_sweep
from shared.services.webhooks import webhook_deliver, webhook_sweep

# A task on a row (a job or a webhook delivery): acknowledged only once done, given back to the queue if its
# worker dies mid-way; the row's id is its only argument, and the outcome lives in the row, not in a result
# backend.
job_task = partial(shared_task, acks_late=True, reject_on_worker_lost=True, ignore_result=True)


@job_task(name="maracker.jobs.execute")
def execute_job(job_id):
    job_execute(job_id)


@job_task(name="maracker.jobs.settle")
def settle_job(job_id):
    job_settle(job_id)


@job_task(name="maracker.jobs.cancel")
def cancel_job(job_id):
    job_cancel_execute(job_id)


# One-off runs on the scheduler: maracker.jobs.* names, so the deploy queue (each task is one short exchange).
@job_task(name="maracker.jobs.run_execute")
def execute_run_job(job_id):
    run_execute(job_id)


@job_task(name="maracker.jobs.run_settle")
def settle_run_job(job_id):
    run_settle(job_id)


# Routed to the `metadata` queue by its name (worker/celery.py): a slow registry never delays a deploy.
@job_task(name="maracker.metadata.execute")
def execute_metadata_job(job_id):
    metadata_job_execute(job_id)


@shared_task(name="maracker.maintenance.sweep", ignore_result=True)
def sweep():
    return job_sweep()


@job_task(name="maracker.webhooks.deliver")
def deliver_webhook(delivery_id):
    webhook_deliver(delivery_id)


@shared_task(name="maracker.webhooks.sweep", ignore_result=True)
def sweep_webhooks():
    return webhook_sweep()
