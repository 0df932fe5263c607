"""Celery tasks for jobs: thin wiring from stable task names to the services that do the work."""
from celery import shared_task

from shared.services.image_metadata import metadata_job_execute
from shared.services.job_runner import job_cancel_execute, job_execute, job_settle
from shared.services.run_jobs import run_execute, run_settle
from shared.services.sweeper import job_sweep
from shared.services.webhooks import webhook_deliver, webhook_sweep


@shared_task(name="maracker.jobs.execute", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_job(job_id):
    job_execute(job_id)


@shared_task(name="maracker.jobs.settle", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def settle_job(job_id):
    job_settle(job_id)


@shared_task(name="maracker.jobs.cancel", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def cancel_job(job_id):
    job_cancel_execute(job_id)


# One-off runs on the scheduler: maracker.jobs.* names, so the deploy queue (each task is one short exchange).
@shared_task(name="maracker.jobs.run_execute", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_run_job(job_id):
    run_execute(job_id)


@shared_task(name="maracker.jobs.run_settle", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def settle_run_job(job_id):
    run_settle(job_id)


# Routed to the `metadata` queue by its name (worker/celery.py): a slow registry never delays a deploy.
@shared_task(name="maracker.metadata.execute", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_metadata_job(job_id):
    metadata_job_execute(job_id)


@shared_task(name="maracker.maintenance.sweep", ignore_result=True)
def sweep():
    return job_sweep()


@shared_task(name="maracker.webhooks.deliver", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(delivery_id):
    webhook_deliver(delivery_id)


@shared_task(name="maracker.webhooks.sweep", ignore_result=True)
def sweep_webhooks():
    return webhook_sweep()
